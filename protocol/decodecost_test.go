package protocol_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/handlers"
	"samsa/protocol"
)

// Decoding a request body must cost time bounded by the bytes present: a
// count or length the body claims (tags, arrays, compact arrays, strings,
// bytes) may not make kmsg loop past what the body holds. kmsg v1.15.0
// spun ~28 s on a 26-byte DescribeCluster v0 frame whose tag section
// claimed 2^31-1 tags; Kafka rejects such a body at once (buffer
// underflow in its generated readers). The bound asserted is generous
// (50 ms + 10 µs per body byte, best of three runs, so a loaded 2-core
// machine under -race does not flake) yet ~500 times below that case.
const (
	decodeFixed   = 50 * time.Millisecond
	decodePerByte = 10 * time.Microsecond
)

func decodeBudget(n int) time.Duration { return decodeFixed + time.Duration(n)*decodePerByte }

// servedVersion is one API version Samsa registers a handler for.
type servedVersion struct{ key, version int16 }

// servedVersions lists every (key, version) the handlers serve: exactly
// the requests whose bodies the connection loop hands to kmsg.
func servedVersions(t testing.TB) []servedVersion {
	t.Helper()
	var h handlers.Handlers
	var out []servedVersion
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			if h.Serves(key, v) {
				out = append(out, servedVersion{key, v})
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d served API versions found; registry not linked?", len(out))
	}
	return out
}

// timeDecode decodes body as key at version and returns how long it took,
// the best of up to three runs while over budget, so a scheduling hiccup
// is not mistaken for unbounded work. A decode still running after ten
// budgets is reported as that long without waiting for it to end.
func timeDecode(key, version int16, body []byte) (time.Duration, error) {
	budget := decodeBudget(len(body))
	best := time.Duration(1<<63 - 1)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		type result struct {
			d   time.Duration
			err error
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			err := req.ReadFrom(body)
			done <- result{time.Since(start), err}
		}()
		select {
		case r := <-done:
			best, err = min(best, r.d), r.err
		case <-time.After(10 * budget):
			return 10 * budget, fmt.Errorf("decode still running after %v", 10*budget)
		}
		if best <= budget {
			break
		}
	}
	return best, err
}

// populate fills every slice with one element, every string and byte
// slice with one byte and every tag section with one unknown tag,
// recursively, so that the encoding has a count or length at every place
// the schema allows one, including inside nested elements.
func populate(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() && v.Type().Elem().Kind() == reflect.String {
			s := "x"
			v.Set(reflect.ValueOf(&s))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1})
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		populate(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(kmsg.Tags{}) {
			if v.CanAddr() {
				v.Addr().Interface().(*kmsg.Tags).Set(9999, []byte{1})
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				populate(f, depth+1)
			}
		}
	}
}

// seedBodies returns, for one served version, the encoding of an empty
// request and of a populated one.
func seedBodies(sv servedVersion) [][]byte {
	empty := kmsg.RequestForKey(sv.key)
	empty.SetVersion(sv.version)
	full := kmsg.RequestForKey(sv.key)
	populate(reflect.ValueOf(full).Elem(), 0)
	full.SetVersion(sv.version)
	return [][]byte{empty.AppendTo(nil), full.AppendTo(nil)}
}

// hugeCounts are encodings of the largest counts and lengths each of
// Kafka's wire types can claim.
var hugeCounts = [][]byte{
	{0x7f, 0xff, 0xff, 0xff},       // int32 array length / bytes length
	{0x7f, 0xff},                   // int16 string length
	{0xff, 0xff, 0xff, 0xff, 0x07}, // uvarint 2^31-1: tag count, compact length
	{0xff, 0xff, 0xff, 0xff, 0x0f}, // uvarint 2^32-1
	{0xfe, 0xff, 0xff, 0xff, 0x0f}, // zigzag varint 2^31-1: record lengths
}

// TestDecodeCostBoundedByInput writes each huge count over, and inserts it
// at, every byte offset of an empty and a fully populated encoding of
// every request version Samsa serves, and checks that decoding each
// result stays within decodeBudget: no claimed count in any position —
// top-level or nested tags, arrays, compact arrays, strings, bytes — buys
// work beyond the bytes sent.
func TestDecodeCostBoundedByInput(t *testing.T) {
	var decodes int
	var worst time.Duration
	var worstWhat string
	for _, sv := range servedVersions(t) {
		for _, seed := range seedBodies(sv) {
			if _, err := timeDecode(sv.key, sv.version, seed); err != nil {
				t.Fatalf("%s v%d: own encoding does not decode: %v", kmsg.NameForKey(sv.key), sv.version, err)
			}
			for i := 0; i <= len(seed); i++ {
				for _, huge := range hugeCounts {
					over := append(append([]byte(nil), seed[:i]...), huge...)
					if i+len(huge) < len(seed) {
						over = append(over, seed[i+len(huge):]...)
					}
					inserted := append(append(append([]byte(nil), seed[:i]...), huge...), seed[i:]...)
					for _, body := range [][]byte{over, inserted} {
						d, err := timeDecode(sv.key, sv.version, body)
						decodes++
						if d > worst {
							worst, worstWhat = d, fmt.Sprintf("%s v%d %x", kmsg.NameForKey(sv.key), sv.version, body)
						}
						if d > decodeBudget(len(body)) {
							t.Fatalf("%s v%d: decoding %d bytes took %v (budget %v, err %v); body %x",
								kmsg.NameForKey(sv.key), sv.version, len(body), d, decodeBudget(len(body)), err, body)
						}
					}
				}
			}
		}
	}
	t.Logf("%d hostile bodies decoded; slowest %v: %s", decodes, worst, worstWhat)
}

// TestDescribeClusterTagBomb is the reported case: the 26-byte frame
// whose DescribeCluster v0 body claims 2,147,483,647 tagged fields.
func TestDescribeClusterTagBomb(t *testing.T) {
	frame := []byte{
		0, 60, 0, 0, 0, 0, 0, 1, // DescribeCluster v0, correlation id 1
		0, 5, 'b', 'o', 'm', 'b', '!', // client id
		0,                            // header tags
		0,                            // include_cluster_authorized_operations
		0xff, 0xff, 0xff, 0xff, 0x07, // 2^31-1 tags, none present
	}
	if len(frame)+4 != 26 {
		t.Fatalf("frame is %d bytes with its size prefix, want 26", len(frame)+4)
	}
	hdr, _, body, known, err := protocol.ParseRequestHeader(frame)
	if err != nil || !known {
		t.Fatalf("header: %v (known %v)", err, known)
	}
	d, err := timeDecode(hdr.Key, hdr.Version, body)
	if d > decodeBudget(len(body)) {
		t.Fatalf("decoding took %v, budget %v", d, decodeBudget(len(body)))
	}
	if err == nil {
		t.Fatalf("a body claiming 2^31-1 absent tags decoded without error")
	}
}

// FuzzDecodeCost decodes arbitrary frames of every served request version
// and fails when one costs more than decodeBudget for its size.
func FuzzDecodeCost(f *testing.F) {
	served := map[servedVersion]bool{}
	for _, sv := range servedVersions(f) {
		served[sv] = true
		for _, body := range seedBodies(sv) {
			req := kmsg.RequestForKey(sv.key)
			req.SetVersion(sv.version)
			hdr := []byte{byte(sv.key >> 8), byte(sv.key), byte(sv.version >> 8), byte(sv.version), 0, 0, 0, 1, 0xff, 0xff}
			if req.IsFlexible() {
				hdr = append(hdr, 0)
			}
			f.Add(append(hdr, body...))
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, _, body, known, err := protocol.ParseRequestHeader(frame)
		if err != nil || !known || !served[servedVersion{hdr.Key, hdr.Version}] {
			return
		}
		if d, err := timeDecode(hdr.Key, hdr.Version, body); d > decodeBudget(len(body)) {
			t.Fatalf("%s v%d: decoding %d bytes took %v (budget %v, err %v)",
				kmsg.NameForKey(hdr.Key), hdr.Version, len(body), d, decodeBudget(len(body)), err)
		}
	})
}
