package follow

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// tail reads one open file forward in chunks and cuts complete lines out
// of it. It remembers just enough to notice when the file stops being the
// one it has read: the start of the unfinished line and a few bytes before
// it. It belongs to the follower's goroutine alone.
type tail struct {
	file      *os.File
	off       int64  // bytes consumed from file, the unfinished line included
	lineStart int64  // where the unfinished line (or the skipped one) starts
	carry     []byte // the unfinished line read so far
	skipping  bool   // inside an overlong line: drop bytes up to its newline
	anchor    []byte // the bytes just before lineStart, as read
	reset     bool   // the next batch must say Reset

	buf            []byte
	chunk, maxLine int
	skipped        uint64 // overlong lines dropped, ever
	torn           uint64 // unfinished lines found rewritten, not yet counted
}

// reopen makes f the file being read, from its start.
func (t *tail) reopen(f *os.File) {
	t.close()
	t.file = f
	t.forget(0)
}

func (t *tail) close() {
	if t.file != nil {
		t.file.Close() // read-only: a close error loses nothing
		t.file = nil
	}
}

// rewind restarts the same file from its start.
func (t *tail) rewind() error {
	t.forget(0)
	_, err := t.file.Seek(0, io.SeekStart)
	return err
}

func (t *tail) forget(at int64) {
	t.off, t.lineStart = at, at
	t.carry, t.skipping = nil, false
	if at == 0 {
		t.anchor = nil
	}
}

func (t *tail) pendingBytes() int64 { return t.off - t.lineStart }

func (t *tail) takeTorn() uint64 {
	n := t.torn
	t.torn = 0
	return n
}

// read reads one chunk and returns the lines it completes. The lines share
// one new buffer, so a reader may keep them; the read buffer is reused.
func (t *tail) read() ([][]byte, int, error) {
	if t.buf == nil {
		t.buf = make([]byte, t.chunk)
	}
	n, err := t.file.Read(t.buf)
	if n == 0 && err == nil {
		err = io.EOF
	}
	t.off += int64(n)
	return t.cut(t.buf[:n]), n, err
}

// cut adds data, the bytes just read, to the unfinished line and returns
// the lines completed.
func (t *tail) cut(data []byte) [][]byte {
	base := t.off - int64(len(data)) // file offset of data[0]
	if t.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		t.skipping = false
		t.setAnchor(data[:i+1], base+int64(i)+1)
		base, data = base+int64(i)+1, data[i+1:]
	}

	last := bytes.LastIndexByte(data, '\n')
	if last < 0 {
		t.carry = append(t.carry, data...)
		if len(t.carry) > t.maxLine {
			t.carry, t.skipping = nil, true
			t.skipped++
		}
		return nil
	}
	block := make([]byte, 0, len(t.carry)+last+1)
	block = append(append(block, t.carry...), data[:last+1]...)
	t.carry = append(t.carry[:0], data[last+1:]...)
	t.setAnchor(block, base+int64(last)+1)
	return splitLines(block)
}

// setAnchor records the tail of consumed, which ends at file offset end
// with a newline; end is where the next line starts.
func (t *tail) setAnchor(consumed []byte, end int64) {
	keep := consumed[max(0, len(consumed)-anchorSize):]
	t.anchor = append(t.anchor[:0], keep...)
	t.lineStart = end
}

// splitLines cuts block, which ends with a newline, into its lines. Each
// line's capacity ends at its own end, so appending to one cannot scribble
// over the next.
func splitLines(block []byte) [][]byte {
	lines := make([][]byte, 0, bytes.Count(block, []byte{'\n'}))
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		lines = append(lines, block[:i:i])
		block = block[i+1:]
	}
	return lines
}

// rewritten reports whether the file no longer holds what was delivered
// from it: it shrank below the last complete line, or the bytes before that
// point changed (truncated and written again past where we were). Then the
// caller starts over. When only the unfinished line changed (a writer cut
// its own torn tail, then went on), rewritten rewinds to that line's start
// itself and reports false: nothing delivered was wrong.
func (t *tail) rewritten() bool {
	if t.file == nil {
		return false
	}
	fi, err := t.file.Stat()
	if err != nil {
		return false
	}
	if fi.Size() < t.lineStart || !t.holds(t.anchor, t.lineStart-int64(len(t.anchor))) {
		return true
	}
	tailCut := fi.Size() < t.off
	if tailCut || !t.skipping && !t.holds(t.carry, t.lineStart) {
		t.torn++
		at := t.lineStart
		t.forget(at)
		if _, err := t.file.Seek(at, io.SeekStart); err != nil {
			return true
		}
	}
	return false
}

// holds reports whether the file has want at offset at.
func (t *tail) holds(want []byte, at int64) bool {
	if len(want) == 0 {
		return true
	}
	got := make([]byte, len(want))
	n, err := t.file.ReadAt(got, at)
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return n == len(want) && bytes.Equal(got, want)
}

// successor returns the file now at path when it is another file than the
// one being read. It returns nil when it is the same one, and also when
// nothing is at path: a rotation may be half done, and the old file is kept
// (and still read) until a new one appears.
func (t *tail) successor(path string) (*os.File, error) {
	cur, err := t.file.Stat()
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err != nil || os.SameFile(cur, st) {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return nil, err
	}
	next, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return nil, err
	}
	// The path may have changed again between the stat and the open: judge
	// the file actually opened.
	if st, err := next.Stat(); err != nil || os.SameFile(cur, st) {
		next.Close()
		return nil, err
	}
	return next, nil
}
