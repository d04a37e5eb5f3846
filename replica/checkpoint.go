package replica

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// hwCheckpointFile is Kafka's high watermark checkpoint in each log dir:
// a version line (0), a count line, then "topic partition offset" lines
// (OffsetCheckpointFile).
const hwCheckpointFile = "replication-offset-checkpoint"

// ParseHWCheckpoint decodes a replication-offset-checkpoint file.
func ParseHWCheckpoint(data []byte) (map[TP]int64, error) {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) < 2 {
		return nil, fmt.Errorf("%s: %d lines, want at least 2", hwCheckpointFile, len(lines))
	}
	if v, err := strconv.Atoi(string(bytes.TrimSpace(lines[0]))); err != nil || v != 0 {
		return nil, fmt.Errorf("%s: unsupported version %q", hwCheckpointFile, lines[0])
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(lines[1])))
	if err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("%s: count %q does not match %d entries", hwCheckpointFile, lines[1], len(lines)-2)
	}
	out := make(map[TP]int64, n)
	for _, l := range lines[2:] {
		f := bytes.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s: malformed line %q", hwCheckpointFile, l)
		}
		p, err1 := strconv.ParseInt(string(f[1]), 10, 32)
		o, err2 := strconv.ParseInt(string(f[2]), 10, 64)
		if err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, fmt.Errorf("%s: malformed line %q", hwCheckpointFile, l)
		}
		out[TP{string(f[0]), int32(p)}] = o
	}
	return out, nil
}

// AppendHWCheckpoint encodes hws (sorted, so the file is deterministic).
func AppendHWCheckpoint(dst []byte, hws map[TP]int64) []byte {
	tps := make([]TP, 0, len(hws))
	for tp := range hws {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	dst = append(dst, "0\n"...)
	dst = strconv.AppendInt(dst, int64(len(tps)), 10)
	dst = append(dst, '\n')
	for _, tp := range tps {
		dst = append(dst, tp.Topic...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(tp.Partition), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, hws[tp], 10)
		dst = append(dst, '\n')
	}
	return dst
}

func readHWCheckpoint(dir string) (map[TP]int64, error) {
	data, err := os.ReadFile(filepath.Join(dir, hwCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[TP]int64{}, nil
	}
	if err != nil {
		return map[TP]int64{}, err
	}
	m, err := ParseHWCheckpoint(data)
	if err != nil {
		return map[TP]int64{}, err
	}
	return m, nil
}

// writeHWCheckpoint replaces the file atomically (temp file, fsync,
// rename), as Kafka's CheckpointFile does.
func writeHWCheckpoint(dir string, hws map[TP]int64) error {
	path := filepath.Join(dir, hwCheckpointFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, werr := f.Write(AppendHWCheckpoint(nil, hws))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
