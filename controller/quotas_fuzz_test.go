package controller

import (
	"testing"

	"samsa/quota"
)

// FuzzDecodeQuota feeds arbitrary stored quota keys and values to the
// decoder OpenSingle uses: it must fail cleanly, and what it accepts must
// encode back to the same key.
func FuzzDecodeQuota(f *testing.F) {
	f.Add("quota/user=alice/client-id", []byte(`{"entity":{"user":"alice","client-id":null},"quotas":{"producer_byte_rate":1048576}}`))
	f.Add("quota/ip=1.2.3.4", []byte(`{"entity":{"ip":"1.2.3.4"},"quotas":{"connection_creation_rate":5}}`))
	f.Add("quota/user", []byte(`{"entity":{"user":null},"quotas":{}}`))
	f.Fuzz(func(t *testing.T, key string, val []byte) {
		e, err := decodeQuota(key, val)
		if err != nil {
			return
		}
		if quotaKey(e.Entity) != key {
			t.Fatalf("decoded %s from key %q", e.Entity, key)
		}
		if _, err := encodeQuota(e); err != nil {
			t.Fatal(err)
		}
		_ = quota.Entry{}
	})
}
