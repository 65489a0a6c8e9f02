package observe

import (
	"strconv"
	"strings"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Line decodes one event into a plain line for people and pipes:
//
//	#7 10:00:01.250 CLAIM job=j-1 factory=mac-1 epoch=1 -> claimed holder=mac-1 e1 lease=1.5s
//
// It never holds an escape code or a newline: ids are restricted to
// [A-Za-z0-9._-] and every free-text field is Go-quoted. The time is UTC,
// as the coordinator wrote it, so lines from several machines compare.
func Line(e coord.Event) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteByte('#')
	b.WriteString(strconv.FormatUint(e.Seq, 10))
	b.WriteByte(' ')
	b.WriteString(e.Time.UTC().Format("15:04:05.000"))
	b.WriteByte(' ')
	b.WriteString(safe(e.Label()))
	field(&b, "job", e.Job)
	field(&b, "factory", dash(e.Factory))
	b.WriteString(" epoch=")
	b.WriteString(strconv.FormatUint(e.Epoch, 10))
	if e.Type == coord.EvFence {
		field(&b, "op", dash(e.Op))
		field(&b, "reason", dash(string(e.Reason)))
		b.WriteString(" 409")
	}
	if e.Product != "" {
		field(&b, "product", e.Product)
	}
	b.WriteString(" -> ")
	b.WriteString(safe(string(e.After.Stage)))
	field(&b, "holder", dash(e.After.Holder))
	b.WriteString(" e")
	b.WriteString(strconv.FormatUint(e.After.Epoch, 10))
	if !e.After.ExpiresAt.IsZero() {
		b.WriteString(" lease=")
		b.WriteString(e.After.ExpiresAt.Sub(e.Time).Round(time.Millisecond).String())
	}
	return b.String()
}

// field writes " name=value", the value made safe.
func field(b *strings.Builder, name, value string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(safe(value))
}

// safe quotes a value that is not plain printable ASCII without spaces,
// so that nothing a log holds can reach a terminal as a control sequence.
// Valid ids and stage names pass unchanged.
func safe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
