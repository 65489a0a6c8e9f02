package coord

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// EventType names what happened. PATCH events are written PATCH:<stage>.
type EventType string

// The event types of events.log.
const (
	EvSubmit  EventType = "SUBMIT"
	EvClaim   EventType = "CLAIM"
	EvRenew   EventType = "RENEW"
	EvPatch   EventType = "PATCH"
	EvRelease EventType = "RELEASE"
	EvReclaim EventType = "RECLAIM"
	EvFence   EventType = "FENCE"
)

// Event is one line of events.log: what happened, to which job, by whom,
// and the job's whole resulting state (After), so that folding the events
// in order rebuilds every job without any other file.
type Event struct {
	Seq     uint64
	Time    time.Time
	Type    EventType
	Job     string
	Factory string // the actor: claimer, reporter, fenced caller; "" for the reaper
	// Epoch is the actor's epoch: the epoch granted by a CLAIM, reported by a
	// RENEW or PATCH, ended by a RELEASE or RECLAIM, or the stale epoch a
	// FENCE refused.
	Epoch   uint64
	Product string // SUBMIT only
	Payload string // SUBMIT only
	Op      string // FENCE: the refused call, e.g. "renew" or "patch:done"
	Reason  FenceReason
	After   JobState
}

// Label is the type as written in the log: PATCH:<stage> for patches.
func (e Event) Label() string {
	if e.Type == EvPatch {
		return string(EvPatch) + ":" + string(e.After.Stage)
	}
	return string(e.Type)
}

// ErrBadLine is wrapped by every ParseLine error.
var ErrBadLine = errors.New("bad event line")

const timeLayout = "2006-01-02T15:04:05.000000000Z"

// AppendLine appends e as one events.log line, newline included, to dst.
//
// The format, documented in docs/events.md, is
//
//	<seq> <time> <TYPE> job=<id> factory=<id|-> epoch=<n> stage=<s>
//	    holder=<id|-> jepoch=<n> expires=<time|-> [product=<id>]
//	    [op=<op>] [reason=<r>] [payload=<quoted>] crc=<8 hex>
//
// on one line. Ids are restricted to [A-Za-z0-9._-], so they need no quoting;
// the payload is the one free-text field and is always Go-quoted. The CRC-32C
// of everything before " crc=" lets a reader tell a torn or damaged line from
// a whole one.
func AppendLine(dst []byte, e Event) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, ' ')
	dst = e.Time.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, ' ')
	dst = append(dst, e.Label()...)
	dst = appendField(dst, "job", e.Job)
	dst = appendField(dst, "factory", dash(e.Factory))
	dst = append(dst, " epoch="...)
	dst = strconv.AppendUint(dst, e.Epoch, 10)
	dst = appendField(dst, "stage", string(e.After.Stage))
	dst = appendField(dst, "holder", dash(e.After.Holder))
	dst = append(dst, " jepoch="...)
	dst = strconv.AppendUint(dst, e.After.Epoch, 10)
	dst = append(dst, " expires="...)
	if e.After.ExpiresAt.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = e.After.ExpiresAt.UTC().AppendFormat(dst, timeLayout)
	}
	if e.Product != "" {
		dst = appendField(dst, "product", e.Product)
	}
	if e.Op != "" {
		dst = appendField(dst, "op", e.Op)
	}
	if e.Reason != "" {
		dst = appendField(dst, "reason", string(e.Reason))
	}
	if e.Payload != "" {
		dst = append(dst, " payload="...)
		dst = strconv.AppendQuoteToASCII(dst, e.Payload)
	}
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, " crc="...)
	dst = appendHex32(dst, sum)
	return append(dst, '\n')
}

// FormatLine returns e as one events.log line without its newline.
func FormatLine(e Event) string {
	b := AppendLine(nil, e)
	return string(b[:len(b)-1])
}

// ParseLine reads one events.log line (with or without its newline). It is
// the inverse of AppendLine: ParseLine(FormatLine(e)) == e for every event
// AppendLine can write. Every error wraps ErrBadLine.
func ParseLine(line []byte) (Event, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	var e Event
	i := bytes.LastIndex(line, []byte(" crc="))
	if i < 0 {
		return e, fmt.Errorf("%w: no crc", ErrBadLine)
	}
	want, err := strconv.ParseUint(string(line[i+5:]), 16, 32)
	if err != nil || len(line)-(i+5) != 8 {
		return e, fmt.Errorf("%w: crc %q is not 8 hex digits", ErrBadLine, line[i+5:])
	}
	body := line[:i]
	if got := crc32.Checksum(body, castagnoli); got != uint32(want) {
		return e, fmt.Errorf("%w: crc mismatch (torn or damaged line)", ErrBadLine)
	}
	return parseBody(string(body))
}

func parseBody(s string) (Event, error) {
	var e Event
	seqS, rest, ok1 := strings.Cut(s, " ")
	timeS, rest, ok2 := strings.Cut(rest, " ")
	label, rest, _ := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return e, fmt.Errorf("%w: want <seq> <time> <type> and fields", ErrBadLine)
	}
	var err error
	if e.Seq, err = strconv.ParseUint(seqS, 10, 64); err != nil {
		return e, fmt.Errorf("%w: seq %q", ErrBadLine, seqS)
	}
	if e.Time, err = parseLogTime(timeS); err != nil {
		return e, fmt.Errorf("%w: time %q", ErrBadLine, timeS)
	}
	patchStage := ""
	if t, st, isPatch := strings.Cut(label, ":"); isPatch {
		if EventType(t) != EvPatch || st == "" {
			return e, fmt.Errorf("%w: type %q", ErrBadLine, label)
		}
		e.Type, patchStage = EvPatch, st
	} else {
		e.Type = EventType(label)
		if e.Type == EvPatch {
			return e, fmt.Errorf("%w: PATCH without :<stage>", ErrBadLine)
		}
	}
	if !knownType(e.Type) {
		return e, fmt.Errorf("%w: unknown type %q", ErrBadLine, label)
	}
	seen := map[string]bool{}
	for rest != "" {
		var kv string
		if strings.HasPrefix(rest, "payload=") && !seen["payload"] {
			q, err := strconv.QuotedPrefix(rest[len("payload="):])
			if err != nil {
				return e, fmt.Errorf("%w: payload is not a quoted string", ErrBadLine)
			}
			if e.Payload, err = strconv.Unquote(q); err != nil {
				return e, fmt.Errorf("%w: payload: %v", ErrBadLine, err)
			}
			seen["payload"] = true
			rest = strings.TrimPrefix(rest[len("payload=")+len(q):], " ")
			continue
		}
		kv, rest, _ = strings.Cut(rest, " ")
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return e, fmt.Errorf("%w: field %q", ErrBadLine, kv)
		}
		seen[k] = true
		if err := e.setField(k, v); err != nil {
			return e, err
		}
	}
	for _, k := range []string{"job", "factory", "epoch", "stage", "holder", "jepoch", "expires"} {
		if !seen[k] {
			return e, fmt.Errorf("%w: missing %s=", ErrBadLine, k)
		}
	}
	if patchStage != "" && patchStage != string(e.After.Stage) {
		return e, fmt.Errorf("%w: %s with stage=%s", ErrBadLine, label, e.After.Stage)
	}
	return e, nil
}

func (e *Event) setField(k, v string) error {
	var err error
	switch k {
	case "job":
		e.Job, err = idField(k, v, false)
	case "factory":
		e.Factory, err = idField(k, v, true)
	case "holder":
		e.After.Holder, err = idField(k, v, true)
	case "product":
		e.Product, err = idField(k, v, false)
	case "epoch":
		e.Epoch, err = strconv.ParseUint(v, 10, 64)
	case "jepoch":
		e.After.Epoch, err = strconv.ParseUint(v, 10, 64)
	case "stage":
		e.After.Stage, err = ParseStage(v)
	case "expires":
		if v != "-" {
			e.After.ExpiresAt, err = parseLogTime(v)
		}
	case "op":
		e.Op, err = opField(v)
	case "reason":
		e.Reason = FenceReason(v)
		err = reasonField(e.Reason)
	default:
		return fmt.Errorf("%w: unknown field %q", ErrBadLine, k)
	}
	if err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrBadLine, k, v, err)
	}
	return nil
}

func idField(k, v string, dashOK bool) (string, error) {
	if dashOK && v == "-" {
		return "", nil
	}
	if !ValidID(v) {
		return "", fmt.Errorf("%s is not a valid id", k)
	}
	return v, nil
}

func opField(v string) (string, error) {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c == ':') {
			return "", errors.New("op is not [a-z:]")
		}
	}
	if v == "" {
		return "", errors.New("empty op")
	}
	return v, nil
}

func reasonField(r FenceReason) error {
	switch r {
	case ReasonStaleEpoch, ReasonWrongHolder, ReasonNotHeld, ReasonExpired:
		return nil
	}
	return errors.New("unknown fence reason")
}

func knownType(t EventType) bool {
	switch t {
	case EvSubmit, EvClaim, EvRenew, EvPatch, EvRelease, EvReclaim, EvFence:
		return true
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendField(dst []byte, k, v string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, k...)
	dst = append(dst, '=')
	return append(dst, v...)
}

func appendHex32(dst []byte, v uint32) []byte {
	const hex = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(v>>uint(shift))&0xf])
	}
	return dst
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseLogTime reads a time written with timeLayout, as time.Parse would,
// but with the layout's fixed widths read directly: every line has one or
// two times, and the general parser was a seventh of a replay's time.
// Anything off the fast path's exact shape goes to time.Parse, so the two
// accept and reject the same texts (TestParseLogTimeMatchesTimeParse).
func parseLogTime(v string) (time.Time, error) {
	if len(v) != len(timeLayout) || v[4] != '-' || v[7] != '-' || v[10] != 'T' ||
		v[13] != ':' || v[16] != ':' || v[19] != '.' || v[29] != 'Z' {
		return time.Parse(timeLayout, v)
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if min(year, month, day, hour, minute, sec, nsec) < 0 || month < 1 || month > 12 ||
		day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Parse(timeLayout, v)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April and the like: let time.Parse word the error
		return time.Parse(timeLayout, v)
	}
	return t, nil
}
