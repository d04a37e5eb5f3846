package replica

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func FuzzParseHWCheckpoint(f *testing.F) {
	f.Add(AppendHWCheckpoint(nil, map[TP]int64{{"a", 0}: 5, {"b.c", 3}: 0}))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\nt 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseHWCheckpoint(data)
		if err != nil {
			return
		}
		again, err := ParseHWCheckpoint(AppendHWCheckpoint(nil, m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %v: %v, %v", m, again, err)
		}
	})
}

// FuzzDecodeResponse feeds arbitrary frames to the inter-broker response
// decoder (what another broker, or anything on its port, sends back): it
// must return an error, never panic.
func FuzzDecodeResponse(f *testing.F) {
	fr := kmsg.NewPtrFetchResponse()
	fr.Version = 17
	body := fr.AppendTo(binary.BigEndian.AppendUint32(nil, 7))
	f.Add(append(body[:4:4], append([]byte{0}, body[4:]...)...), int16(17), int16(1))
	ar := kmsg.NewPtrAlterPartitionResponse()
	ar.Version = 3
	f.Add(append([]byte{0, 0, 0, 7, 0}, ar.AppendTo(nil)...), int16(3), int16(56))
	f.Fuzz(func(t *testing.T, data []byte, version int16, key int16) {
		var resp kmsg.Response
		switch key {
		case 56:
			resp = &kmsg.AlterPartitionResponse{Version: version % 4}
		case 23:
			resp = &kmsg.OffsetForLeaderEpochResponse{Version: version % 5}
		default:
			resp = &kmsg.FetchResponse{Version: version % 19}
		}
		if resp.GetVersion() < 0 {
			resp.SetVersion(-resp.GetVersion())
		}
		_ = decodeResponse(data, 7, resp)
	})
}
