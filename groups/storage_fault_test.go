package groups

import (
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"samsa/internal/diskguard"
	"samsa/logstore"

	"github.com/twmb/franz-go/pkg/kerr"
)

// faultFS fails writes of segment files (*.log) with a settable errno.
type faultFS struct {
	logstore.OSFS
	err atomic.Value // syscall.Errno; 0: no fault
}

func (f *faultFS) Set(e syscall.Errno) { f.err.Store(e) }
func (f *faultFS) Clear()              { f.err.Store(syscall.Errno(0)) }

func (f *faultFS) fault() error {
	if e, _ := f.err.Load().(syscall.Errno); e != 0 {
		return e
	}
	return nil
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (logstore.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return file, err
	}
	return faultFile{file, f}, nil
}

type faultFile struct {
	logstore.File
	fs *faultFS
}

func (f faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.fault(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f faultFile) Sync() error {
	if err := f.fs.fault(); err != nil {
		return err
	}
	return f.File.Sync()
}

func commitOne(c *Coordinator, group string, offset int64) int16 {
	_, errs := c.Commit(CommitRequest{Group: group, Generation: -1,
		Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"t", 0}, Offset: offset, LeaderEpoch: -1}}})
	return errs[0]
}

func fetchOne(t *testing.T, c *Coordinator, group string) int64 {
	t.Helper()
	code, offs := c.Fetch(group, []TopicPartition{{"t", 0}}, false)
	wantCode(t, "fetch", code, 0)
	return offs[0].Offset
}

// TestStoreFaultContained injects EIO and ENOSPC into the segment
// writes of __consumer_offsets: OffsetCommit and the leader's SyncGroup answer NOT_COORDINATOR
// (Kafka's GroupMetadataManager maps KAFKA_STORAGE_ERROR so), nothing
// panics or hangs, OffsetFetch keeps answering from memory, and once the
// fault clears commits work again, with the
// last acknowledged commit surviving a restart.
func TestStoreFaultContained(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := t.TempDir()
			fault := &faultFS{}
			c, err := Open(Options{Dir: dir, Config: testConfig(), FS: fault})
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, "commit", commitOne(c, "g", 10), 0)

			fault.Set(errno)
			wantCode(t, "commit with a failing WAL", commitOne(c, "g", 20), kerr.NotCoordinator.Code)
			wantCode(t, "commit while reopening", commitOne(c, "g", 21), kerr.NotCoordinator.Code)
			if got := fetchOne(t, c, "g"); got != 10 {
				t.Fatalf("fetch during fault: %d, want 10", got)
			}
			// A group whose assignment cannot be stored.
			j := recvJoin(t, joinAsync(c, joinReq("cg", "", protos("t"))))
			wantCode(t, "join", j.ErrorCode, 0)
			s := recvSync(t, syncAsync(c, SyncRequest{Group: "cg", MemberID: j.MemberID, Generation: j.Generation,
				Assignments: map[string][]byte{j.MemberID: []byte("a")}}))
			wantCode(t, "sync with a failing store", s.ErrorCode, kerr.NotCoordinator.Code)

			fault.Clear()
			deadline := time.Now().Add(10 * time.Second)
			for commitOne(c, "g", 30) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("group store did not recover")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c2 := openTest(t, dir, testConfig(), nil)
			if got := fetchOne(t, c2, "g"); got != 30 {
				t.Fatalf("offset after restart: %d, want 30", got)
			}
		})
	}
}

// TestFullDiskGroupWrites: while the disk guard is full, commits answer
// NOT_COORDINATOR without touching the log, fetches keep working, and
// commits resume when the guard clears.
func TestFullDiskGroupWrites(t *testing.T) {
	dir := t.TempDir()
	free := int64(0)
	g, err := diskguard.New(diskguard.Options{Dir: dir, Reserve: 1 << 20,
		Statfs: func(string) (int64, int64, error) { return free, 1 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(Options{Dir: dir + "/groups", Config: testConfig(), Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantCode(t, "commit", commitOne(c, "g", 1), 0)
	g.Note(syscall.ENOSPC)
	wantCode(t, "commit on a full disk", commitOne(c, "g", 2), kerr.NotCoordinator.Code)
	if got := fetchOne(t, c, "g"); got != 1 {
		t.Fatalf("fetch on a full disk: %d", got)
	}
	free = 100 << 20
	if !g.TryRecover() {
		t.Fatal("guard did not recover")
	}
	wantCode(t, "commit after space returned", commitOne(c, "g", 3), 0)
}
