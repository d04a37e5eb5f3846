package protocol

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseRequestHeaderRoundTrip(t *testing.T) {
	// kmsg's own request formatter writes the headers real clients send.
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("my-client"))
	for _, req := range []kmsg.Request{
		&kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "x", ClientSoftwareVersion: "1"},
		&kmsg.MetadataRequest{Version: 12},
		&kmsg.MetadataRequest{Version: 1},
	} {
		wire := f.AppendRequest(nil, req, 77)
		hdr, got, body, known, err := ParseRequestHeader(wire[4:])
		if err != nil || !known {
			t.Fatalf("%s v%d: err %v known %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err, known)
		}
		if hdr.Key != req.Key() || hdr.Version != req.GetVersion() || hdr.CorrelationID != 77 {
			t.Fatalf("header %+v", hdr)
		}
		if req.Key() != 7 && (hdr.ClientID == nil || *hdr.ClientID != "my-client") {
			t.Fatalf("client id %v", hdr.ClientID)
		}
		if err := got.ReadFrom(body); err != nil {
			t.Fatalf("body: %v", err)
		}
	}
}

func TestParseRequestHeaderErrors(t *testing.T) {
	if _, _, _, _, err := ParseRequestHeader([]byte{0, 1}); !errors.Is(err, ErrShortHeader) {
		t.Fatalf("short: %v", err)
	}
	unknown := []byte{0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}
	if _, _, _, _, err := ParseRequestHeader(unknown); !errors.Is(err, ErrUnknownAPIKey) {
		t.Fatalf("unknown key: %v", err)
	}
	future := []byte{0, 3, 0x7f, 0, 0, 0, 0, 1, 0, 1, 'c'}
	hdr, _, _, known, err := ParseRequestHeader(future)
	if err != nil || known || hdr.ClientIDString() != "c" {
		t.Fatalf("future version: %+v known %v err %v", hdr, known, err)
	}
}

func TestAppendResponseHeaders(t *testing.T) {
	av := &kmsg.ApiVersionsResponse{Version: 3}
	b := AppendResponse(nil, 5, av)
	if int(binary.BigEndian.Uint32(b)) != len(b)-4 || int32(binary.BigEndian.Uint32(b[4:])) != 5 {
		t.Fatalf("frame %x", b)
	}
	// ApiVersions is flexible at v3 but its response header is v0: the
	// body starts right after the correlation id (error code 0, then a
	// compact array).
	check := kmsg.NewPtrApiVersionsResponse()
	check.Version = 3
	if err := check.ReadFrom(b[8:]); err != nil {
		t.Fatalf("ApiVersions body after header v0: %v", err)
	}
	md := &kmsg.MetadataResponse{Version: 12}
	b = AppendResponse(nil, 6, md)
	if b[8] != 0 {
		t.Fatalf("flexible response header must carry an empty tag section")
	}
}

// FuzzParseRequestHeader checks that no input panics the header decoder and
// that a decoded header's body, when kmsg knows the version, decodes
// without panicking either.
func FuzzParseRequestHeader(f *testing.F) {
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	for _, req := range []kmsg.Request{
		&kmsg.ApiVersionsRequest{Version: 3},
		&kmsg.MetadataRequest{Version: 12},
		&kmsg.CreateTopicsRequest{Version: 7},
		&kmsg.ProduceRequest{Version: 9},
		&kmsg.FetchRequest{Version: 13},
	} {
		f.Add(fm.AppendRequest(nil, req, 1)[4:])
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, body, known, err := ParseRequestHeader(frame)
		if err != nil || !known {
			return
		}
		if req == nil || req.Key() != hdr.Key {
			t.Fatalf("request kind does not match key %d", hdr.Key)
		}
		_ = req.ReadFrom(body)
	})
}
