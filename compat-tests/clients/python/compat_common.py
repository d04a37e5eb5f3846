"""What the Python client programs of the compatibility suite share: the
run's settings, failing a scenario with a reason, the check every
round trip makes, and the command-line dispatch run.sh calls
("SCENARIO [ARG]", printing "OK ..." or "FAIL: reason")."""

import os
import sys
import time

BOOTSTRAP = os.environ["BOOTSTRAP"]
RUN = os.environ.get("COMPAT_RUN_ID", str(int(time.time())))
GROUP_DEADLINE = float(os.environ.get("GROUP_DEADLINE_S", "30"))


class Fail(Exception):
    pass


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)


def verify(got, sent, frm, tag):
    """got: consumed records as (partition, offset, key, value, headers dict,
    timestamp); sent: (partition, offset, timestamp) per produced record
    k<frm+i>, timestamp -1 when the producer was not told one."""
    check(len(got) == len(sent), "consumed %d records, produced %d", len(got), len(sent))
    bypos = {}
    for r in got:
        k = (r[0], r[1])
        check(k not in bypos, "record at %s delivered twice", k)
        bypos[k] = r
    for i, (p, o, ts) in enumerate(sent):
        s = frm + i
        r = bypos.get((p, o))
        check(r is not None, "record k%d (partition %d offset %d) not consumed", s, p, o)
        _, _, key, value, headers, rts = r
        check(key == b"k%d" % s, "at %d@%d key %r, want k%d", p, o, key, s)
        check(value == ("v%d-%s" % (s, tag)).encode(), "at %d@%d value %r", p, o, value)
        check(headers == {"seq": str(s), "tag": tag}, "at %d@%d headers %r", p, o, headers)
        check(ts == -1 or rts == ts, "at %d@%d timestamp %d, producer was told %d", p, o, rts, ts)
    byp = {}
    for r in got:
        byp.setdefault(r[0], []).append(r[1])
    for p, offs in byp.items():
        check(offs == list(range(offs[0], offs[0] + len(offs))), "partition %d offsets not dense/in order: %s", p, offs[:20])


def main(scenarios, extra_reason=lambda: ""):
    """Run the scenario named in argv; extra_reason() is appended to a
    failure's reason (e.g. what the client library logged)."""
    sys.stdout.reconfigure(line_buffering=True)
    try:
        scenarios[sys.argv[1]](*sys.argv[2:])
    except Fail as e:
        print("FAIL: %s%s" % (e, extra_reason()))
        sys.exit(1)
    except Exception as e:
        import traceback
        traceback.print_exc(file=sys.stdout)
        print("FAIL: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
    print("OK", " ".join(sys.argv[1:]))
