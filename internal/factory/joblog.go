package factory

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// jobLog appends job lines to log-<factory>.txt. The daemon and its
// executor each hold one on the same file; O_APPEND and one write per line
// make the kernel place every line whole at the end of the file, so the two
// processes need no lock between them.
type jobLog struct {
	f       *os.File
	factory string
	now     func() time.Time
}

// logTimeLayout is RFC 3339 with milliseconds, fixed width so lines align.
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// openJobLog opens (creating) the log at path for appending.
func openJobLog(path, factory string) (*jobLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open job log: %w", err)
	}
	return &jobLog{f: f, factory: factory, now: time.Now}, nil
}

// line writes "<time> <event> factory=.. job=.. epoch=.. k=v ..." where kv
// alternates keys and values. A write error is returned but callers only
// log it: a full disk must not stop a job that is otherwise fine.
func (l *jobLog) line(event, job string, epoch uint64, kv ...string) error {
	b := make([]byte, 0, 128)
	b = l.now().UTC().AppendFormat(b, logTimeLayout)
	b = append(b, ' ')
	b = append(b, event...)
	b = appendKV(b, "factory", l.factory)
	b = appendKV(b, "job", job)
	b = append(b, " epoch="...)
	b = strconv.AppendUint(b, epoch, 10)
	for i := 0; i+1 < len(kv); i += 2 {
		b = appendKV(b, kv[i], kv[i+1])
	}
	b = append(b, '\n')
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("write job log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *jobLog) Close() error { return l.f.Close() }

// appendKV writes " k=v", quoting v when a reader splitting on spaces and
// "=" would otherwise misread it (spaces, quotes, "=", empty, non-ASCII).
func appendKV(b []byte, k, v string) []byte {
	b = append(b, ' ')
	b = append(b, k...)
	b = append(b, '=')
	if needsQuote(v) {
		return strconv.AppendQuoteToASCII(b, v)
	}
	return append(b, v...)
}

func needsQuote(v string) bool {
	if v == "" {
		return true
	}
	return strings.ContainsFunc(v, func(r rune) bool {
		return r <= ' ' || r == '"' || r == '=' || r == '\\' || r > '~'
	})
}
