package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args      []string
		path      string
		overrides []string
		err       error
	}{
		{args: nil},
		{args: []string{"server.properties"}, path: "server.properties"},
		{args: []string{"s.p", "--override", "a=b", "--override=c=d=e"}, path: "s.p", overrides: []string{"a=b", "c=d=e"}},
		{args: []string{"--override", "a=b"}, overrides: []string{"a=b"}},
		{args: []string{"--override", "k="}, overrides: []string{"k="}},
		{args: []string{"--override", "listeners=PLAINTEXT://:9092"}, overrides: []string{"listeners=PLAINTEXT://:9092"}},
		{args: []string{"--override"}, err: ErrUsage},
		{args: []string{"--override", "novalue"}, err: ErrUsage},
		{args: []string{"--override=novalue"}, err: ErrUsage},
		{args: []string{"--override", "=x"}, err: ErrUsage},
		{args: []string{"s.p", "extra"}, err: ErrUsage},
		{args: []string{"--override", "a=b", "s.p"}, err: ErrUsage},
		{args: []string{"--verbose"}, err: ErrUsage},
		{args: []string{"s.p", "-x"}, err: ErrUsage},
		{args: []string{"--help"}, err: ErrHelp},
		{args: []string{"s.p", "-h"}, err: ErrHelp},
	}
	for _, tt := range tests {
		path, overrides, err := ParseArgs(tt.args)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseArgs(%q) error = %v, want %v", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || path != tt.path || !reflect.DeepEqual(overrides, tt.overrides) {
			t.Errorf("ParseArgs(%q) = %q, %q, %v; want %q, %q", tt.args, path, overrides, err, tt.path, tt.overrides)
		}
	}
}
