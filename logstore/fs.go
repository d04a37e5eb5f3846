package logstore

import (
	"io"
	"os"
	"path/filepath"
)

// FS is the file system seam of the store: every segment, checkpoint and
// directory operation goes through it, so tests can inject write errors and
// torn writes and check that the log stays consistent. The Pebble index
// does not use it (Pebble has its own VFS, and the index can always be
// rebuilt from segments).
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(path string) error
	MkdirAll(path string, perm os.FileMode) error
	ReadDir(name string) ([]os.DirEntry, error)
	Rename(oldpath, newpath string) error
	Stat(name string) (os.FileInfo, error)
}

// File is an open segment or checkpoint file. Segments are written with
// WriteAt at explicit positions, never with the file offset, so that a
// failed or torn write can be overwritten by the next append even if the
// truncation that should undo it fails too. Write is used for small
// checkpoint files only.
type File interface {
	io.Writer
	io.WriterAt
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Close() error
	Stat() (os.FileInfo, error)
}

// OSFS is the FS of the operating system.
type OSFS struct{}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // keep a nil interface, not a typed nil
	}
	return f, nil
}

// Remove removes a file or empty directory.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll removes a tree.
func (OSFS) RemoveAll(path string) error { return os.RemoveAll(path) }

// MkdirAll creates a directory and its parents.
func (OSFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// ReadDir lists a directory sorted by name.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// Rename renames atomically within a file system.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Stat stats a path.
func (OSFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

// syncDir fsyncs a directory so that file creations, renames and removals
// in it survive a power failure. Errors are returned but are usually only
// logged: not every file system supports syncing directories.
func syncDir(fsys FS, dir string) error {
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic replaces name with data such that a crash leaves either
// the old or the new content: write a temporary file, fsync it, rename it
// over name, fsync the directory.
func writeFileAtomic(fsys FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	_ = syncDir(fsys, filepath.Dir(name))
	return nil
}
