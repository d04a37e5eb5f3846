package config

import (
	"os"
	"testing"
)

const testHost = "samsa-test-host"

// TestMain pins the advertised host name so tests do not depend on the
// machine they run on.
func TestMain(m *testing.M) {
	hostname = func() (string, error) { return testHost, nil }
	os.Exit(m.Run())
}
