package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors returned by ParseRequestHeader. They are sentinel values so that
// the connection loop can tell "answer and go on" from "close".
var (
	ErrShortHeader    = errors.New("request header truncated")
	ErrUnknownAPIKey  = errors.New("unknown api key")
	ErrBadTaggedField = errors.New("malformed tagged fields in request header")
)

// RequestHeader is a decoded Kafka request header.
type RequestHeader struct {
	Key           int16
	Version       int16
	CorrelationID int32
	// ClientID is nil when the client sent a null client id (or header v0).
	ClientID *string
}

// ClientIDString returns the client id or "" for a null one, for logging.
func (h *RequestHeader) ClientIDString() string {
	if h.ClientID == nil {
		return ""
	}
	return *h.ClientID
}

// headerVersion reports the request header version for key at version:
// 2 for flexible versions, 0 for ControlledShutdown v0, else 1. versionKnown
// is false when kmsg does not know the version, in which case the caller
// cannot decode past the fixed fields.
func headerVersion(req kmsg.Request, key, version int16) (hv int, versionKnown bool) {
	if key == 7 && version == 0 {
		return 0, true
	}
	if version < 0 || version > req.MaxVersion() {
		return 1, false
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		return 2, true
	}
	return 1, true
}

// ParseRequestHeader decodes the header at the start of frame (the bytes
// after the size prefix) and returns it with the body that follows, plus an
// empty kmsg request of the right kind with its version set. For a version
// kmsg does not know, req is returned with body nil and versionKnown false;
// the header's fixed fields and client id are still filled in (header v1
// layout), which is what the caller needs to log and to answer ApiVersions.
func ParseRequestHeader(frame []byte) (hdr RequestHeader, req kmsg.Request, body []byte, versionKnown bool, err error) {
	if len(frame) < 8 {
		return hdr, nil, nil, false, ErrShortHeader
	}
	hdr.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	hdr.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	hdr.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	req = kmsg.RequestForKey(hdr.Key)
	if req == nil {
		// Best effort: read the client id for the log line.
		hdr.ClientID, _, _ = readNullableString(rest)
		return hdr, nil, nil, false, fmt.Errorf("%w %d", ErrUnknownAPIKey, hdr.Key)
	}
	hv, known := headerVersion(req, hdr.Key, hdr.Version)
	if hv == 0 {
		return hdr, req, rest, true, nil
	}
	var cerr error
	hdr.ClientID, rest, cerr = readNullableString(rest)
	if cerr != nil {
		return hdr, req, nil, known, cerr
	}
	if !known {
		return hdr, req, nil, false, nil
	}
	if hv == 2 {
		if rest, err = skipTags(rest); err != nil {
			return hdr, req, nil, true, err
		}
	}
	return hdr, req, rest, true, nil
}

func readNullableString(b []byte) (*string, []byte, error) {
	if len(b) < 2 {
		return nil, b, ErrShortHeader
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n < 0 {
		return nil, b, nil
	}
	if int(n) > len(b) {
		return nil, b, ErrShortHeader
	}
	s := string(b[:n])
	return &s, b[n:], nil
}

// skipTags skips a tagged-field section: uvarint count, then count times
// (uvarint tag, uvarint size, size bytes). The header defines no tags Samsa
// reads, so they are dropped.
func skipTags(b []byte) ([]byte, error) {
	n, m := binary.Uvarint(b)
	if m <= 0 {
		return nil, ErrBadTaggedField
	}
	b = b[m:]
	for i := uint64(0); i < n; i++ {
		if _, m = binary.Uvarint(b); m <= 0 {
			return nil, ErrBadTaggedField
		}
		b = b[m:]
		size, m := binary.Uvarint(b)
		if m <= 0 || size > uint64(len(b)-m) {
			return nil, ErrBadTaggedField
		}
		b = b[m+int(size):]
	}
	return b, nil
}

// AppendResponse appends a complete response frame (size prefix, response
// header, body) for resp to dst.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	// ApiVersions (key 18) always answers with response header v0.
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
