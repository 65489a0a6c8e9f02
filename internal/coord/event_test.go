package coord

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"time"
)

// lineTime is a fixed instant with every nanosecond digit in use, so that a
// format that dropped precision would fail the round trip.
var lineTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// trickyPayload holds what a free-text field can hold and a token format
// cannot: quotes, spaces, a newline, a tab, a backslash, unicode and text
// that looks like the line's own fields.
const trickyPayload = "say \"hi\" to\tall\nof them \\ naïve café 日本 🚀 job=x crc=00000000"

// sampleEvents returns one event of every type and shape the log holds.
func sampleEvents() map[string]Event {
	at := lineTime
	exp := at.Add(1500 * time.Millisecond)
	held := func(st Stage, f string, ep uint64) JobState {
		return JobState{Stage: st, Holder: f, Epoch: ep, ExpiresAt: exp}
	}
	return map[string]Event{
		"submit": {Seq: 1, Time: at, Type: EvSubmit, Job: "j-1", Epoch: 1,
			Product: "prod.A_1", Payload: trickyPayload,
			After: JobState{Stage: StageQueued, Epoch: 1}},
		"submit bare": {Seq: 2, Time: at, Type: EvSubmit, Job: "J2",
			After: JobState{Stage: StageQueued, Epoch: 1}},
		"claim": {Seq: 3, Time: at, Type: EvClaim, Job: "j-1", Factory: "mac-1", Epoch: 1,
			After: held(StageClaimed, "mac-1", 1)},
		"renew": {Seq: 4, Time: at, Type: EvRenew, Job: "j-1", Factory: "mac-1", Epoch: 1,
			After: held(StageClaimed, "mac-1", 1)},
		"patch running": {Seq: 5, Time: at, Type: EvPatch, Job: "j-1", Factory: "mac-1",
			Epoch: 1, After: held(StageRunning, "mac-1", 1)},
		"patch verifying": {Seq: 6, Time: at, Type: EvPatch, Job: "j-1", Factory: "mac-1",
			Epoch: 1, After: held(StageVerifying, "mac-1", 1)},
		"patch done": {Seq: 7, Time: at, Type: EvPatch, Job: "j-1", Factory: "ubuntu-1",
			Epoch: 2, After: JobState{Stage: StageDone, Holder: "ubuntu-1", Epoch: 2}},
		"patch failed": {Seq: 8, Time: at, Type: EvPatch, Job: "j.3", Factory: "mac-1",
			Epoch: 4, After: JobState{Stage: StageFailed, Holder: "mac-1", Epoch: 4}},
		"release": {Seq: 9, Time: at, Type: EvRelease, Job: "j-1", Factory: "mac-1", Epoch: 1,
			After: JobState{Stage: StageQueued, Epoch: 2}},
		"reclaim": {Seq: 10, Time: at, Type: EvReclaim, Job: "j-1", Factory: "mac-1", Epoch: 2,
			After: JobState{Stage: StageQueued, Epoch: 3}},
		"reclaim by reaper": {Seq: 11, Time: at, Type: EvReclaim, Job: "j-1", Epoch: 3,
			After: JobState{Stage: StageQueued, Epoch: 4}},
		"fence stale": {Seq: 12, Time: at, Type: EvFence, Job: "j-1", Factory: "mac-1",
			Epoch: 1, Op: "patch:done", Reason: ReasonStaleEpoch,
			After: held(StageRunning, "ubuntu-1", 2)},
		"fence holder": {Seq: 13, Time: at, Type: EvFence, Job: "j-1", Factory: "mac-2",
			Epoch: 2, Op: "renew", Reason: ReasonWrongHolder,
			After: held(StageRunning, "ubuntu-1", 2)},
		"fence not held": {Seq: 14, Time: at, Type: EvFence, Job: "j-1", Factory: "mac-1",
			Epoch: 3, Op: "release", Reason: ReasonNotHeld,
			After: JobState{Stage: StageQueued, Epoch: 3}},
		"fence expired": {Seq: 15, Time: at, Type: EvFence, Job: "j-1", Factory: "mac-1",
			Epoch: 3, Op: "patch:running", Reason: ReasonExpired,
			After: JobState{Stage: StageQueued, Epoch: 4}},
		"extremes": {Seq: math.MaxUint64, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999,
			time.UTC), Type: EvClaim, Job: strings.Repeat("a", 64), Factory: "Z", Epoch: math.MaxUint64,
			After: JobState{Stage: StageClaimed, Holder: "Z", Epoch: math.MaxUint64, ExpiresAt: exp}},
	}
}

func TestLineRoundTrip(t *testing.T) {
	for name, e := range sampleEvents() {
		t.Run(name, func(t *testing.T) {
			line := FormatLine(e)
			if strings.ContainsAny(line, "\n\r") {
				t.Fatalf("line holds a line break: %q", line)
			}
			if !strings.Contains(line, " "+e.Label()+" ") {
				t.Errorf("line %q does not carry its label %q as a token", line, e.Label())
			}

			// AppendLine must seal only what it appended, not what dst held.
			prefix := []byte("previous line\n")
			appended := AppendLine(bytes.Clone(prefix), e)
			if want := string(prefix) + line + "\n"; string(appended) != want {
				t.Fatalf("AppendLine onto a prefix = %q, want %q", appended, want)
			}

			for _, in := range []string{line, line + "\n"} {
				got, err := ParseLine([]byte(in))
				if err != nil {
					t.Fatalf("ParseLine(%q): %v", in, err)
				}
				if got != e {
					t.Fatalf("round trip changed the event\n got %+v\nwant %+v", got, e)
				}
			}
		})
	}
}

// TestLineGolden pins the documented format: readers (grep, the docs,
// other tools) depend on it, so a change must be deliberate.
func TestLineGolden(t *testing.T) {
	e := sampleEvents()["fence stale"]
	body := "12 2026-03-14T15:09:26.535897932Z FENCE job=j-1 factory=mac-1 epoch=1 " +
		"stage=running holder=ubuntu-1 jepoch=2 expires=2026-03-14T15:09:28.035897932Z " +
		"op=patch:done reason=stale-epoch"
	if got, want := FormatLine(e), seal(body); got != want {
		t.Fatalf("FormatLine =\n%s\nwant\n%s", got, want)
	}
}

// seal appends the crc field to a line body, so that a test can build a
// line whose damage is in its fields and not in its checksum.
func seal(body string) string {
	return body + " crc=" + string(appendHex32(nil, crc32.Checksum([]byte(body), castagnoli)))
}

// bodyOf strips the crc field from a whole line.
func bodyOf(line string) string {
	return line[:strings.LastIndex(line, " crc=")]
}

func TestParseLineRejectsTornLines(t *testing.T) {
	for name, e := range sampleEvents() {
		line := FormatLine(e)
		for n := range len(line) {
			torn := line[:n]
			if _, err := ParseLine([]byte(torn)); !errors.Is(err, ErrBadLine) {
				t.Fatalf("%s: torn line %q (%d of %d bytes): err = %v, want ErrBadLine",
					name, torn, n, len(line), err)
			}
		}
	}
}

func TestParseLineRejectsFlippedBytes(t *testing.T) {
	// Masks that change a byte's value whatever it is. The case bit (0x20)
	// is left out: on a crc hex letter it gives the same number in upper
	// case, which is a spelling change and not damage.
	masks := []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x40, 0x80}
	for name, e := range sampleEvents() {
		line := []byte(FormatLine(e))
		for i := range line {
			for _, m := range masks {
				bad := bytes.Clone(line)
				bad[i] ^= m
				if _, err := ParseLine(bad); !errors.Is(err, ErrBadLine) {
					t.Fatalf("%s: byte %d ^ %#x accepted: %q (err %v)", name, i, m, bad, err)
				}
			}
		}
	}
}

func TestParseLineRejectsBadFields(t *testing.T) {
	submit := bodyOf(FormatLine(sampleEvents()["submit"]))
	fence := bodyOf(FormatLine(sampleEvents()["fence stale"]))
	patch := bodyOf(FormatLine(sampleEvents()["patch running"]))
	long65 := strings.Repeat("a", 65)
	cases := map[string]string{
		"empty":                "",
		"only newline":         "\n",
		"no crc":               submit,
		"crc too short":        submit + " crc=1234567",
		"crc too long":         seal(submit) + "0",
		"crc not hex":          submit + " crc=1234567g",
		"crc signed":           submit + " crc=+1234567",
		"crc of other line":    fence + " crc=" + seal(submit)[len(submit)+5:],
		"bad job ../x":         seal(strings.Replace(submit, "job=j-1", "job=../x", 1)),
		"bad job .x":           seal(strings.Replace(submit, "job=j-1", "job=.x", 1)),
		"bad job a/b":          seal(strings.Replace(submit, "job=j-1", "job=a/b", 1)),
		"job dash":             seal(strings.Replace(submit, "job=j-1", "job=-", 1)),
		"job empty":            seal(strings.Replace(submit, "job=j-1", "job=", 1)),
		"job too long":         seal(strings.Replace(submit, "job=j-1", "job="+long65, 1)),
		"bad factory":          seal(strings.Replace(fence, "factory=mac-1", "factory=../mac", 1)),
		"bad holder":           seal(strings.Replace(fence, "holder=ubuntu-1", "holder=a\\b", 1)),
		"bad product":          seal(strings.Replace(submit, "product=prod.A_1", "product=..", 1)),
		"unknown type":         seal(strings.Replace(submit, " SUBMIT ", " STEAL ", 1)),
		"lower-case type":      seal(strings.Replace(submit, " SUBMIT ", " submit ", 1)),
		"PATCH without stage":  seal(strings.Replace(patch, " PATCH:running ", " PATCH ", 1)),
		"PATCH empty stage":    seal(strings.Replace(patch, " PATCH:running ", " PATCH: ", 1)),
		"PATCH unknown stage":  seal(strings.Replace(patch, "PATCH:running", "PATCH:idle", 1)),
		"PATCH stage mismatch": seal(strings.Replace(patch, "PATCH:running", "PATCH:done", 1)),
		"non-PATCH with stage": seal(strings.Replace(submit, " SUBMIT ", " SUBMIT:queued ", 1)),
		"unknown stage":        seal(strings.Replace(submit, "stage=queued", "stage=idle", 1)),
		"negative epoch":       seal(strings.Replace(submit, "epoch=1", "epoch=-1", 1)),
		"fraction epoch":       seal(strings.Replace(submit, "epoch=1", "epoch=1.5", 1)),
		"huge epoch":           seal(strings.Replace(submit, "epoch=1", "epoch=18446744073709551616", 1)),
		"bad seq":              seal("x" + submit),
		"bad time":             seal(strings.Replace(submit, "2026-03-14T", "2026-02-30T", 1)),
		"short time":           seal(strings.Replace(submit, ".535897932Z", "Z", 1)),
		"bad expires":          seal(strings.Replace(fence, "expires=2026", "expires=yesterday", 1)),
		"unknown field":        seal(submit + " color=red"),
		"field without =":      seal(submit + " loose"),
		"double space":         seal(strings.Replace(submit, " job=", "  job=", 1)),
		"bad op":               seal(strings.Replace(fence, "op=patch:done", "op=Patch", 1)),
		"empty op":             seal(strings.Replace(fence, "op=patch:done", "op=", 1)),
		"unknown reason":       seal(strings.Replace(fence, "reason=stale-epoch", "reason=bored", 1)),
		"unquoted payload":     seal(strings.Replace(submit, `payload="`, `payload=`, 1)),
		"unclosed payload":     seal(submit[:len(submit)-1]),
	}
	for _, f := range []string{"job", "factory", "epoch", "stage", "holder", "jepoch", "expires"} {
		cases["missing "+f] = seal(dropField(fence, f))
		cases["duplicate "+f] = seal(fence + " " + fieldOf(fence, f))
	}
	for _, f := range []string{"product", "op", "reason", "payload"} {
		line := fence
		if f == "product" || f == "payload" {
			line = submit
		}
		cases["duplicate "+f] = seal(line + " " + fieldOf(line, f))
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			if e, err := ParseLine([]byte(line)); !errors.Is(err, ErrBadLine) {
				t.Fatalf("ParseLine(%q) = %+v, %v; want ErrBadLine", line, e, err)
			}
		})
	}
}

// fieldOf returns the "k=v" token of field k in body. The payload is the
// one field that may hold spaces; it is written last, so it runs to the end.
func fieldOf(body, k string) string {
	i := strings.Index(body, " "+k+"=")
	if i < 0 {
		panic("no field " + k + " in " + body)
	}
	tok := body[i+1:]
	if k == "payload" {
		return tok
	}
	tok, _, _ = strings.Cut(tok, " ")
	return tok
}

func dropField(body, k string) string {
	return strings.Replace(body, " "+fieldOf(body, k), "", 1)
}

// FuzzParseLine checks that ParseLine never panics, that every error wraps
// ErrBadLine, and that every line it accepts formats back to a line that
// parses to the same event (and to the same text again).
//
// A random mutation almost never keeps the crc right, so each input is also
// tried re-sealed with its own crc: that lets the fuzzer reach the field
// parser instead of stopping at the checksum every time.
func FuzzParseLine(f *testing.F) {
	for _, e := range sampleEvents() {
		line := FormatLine(e)
		f.Add([]byte(line))
		f.Add([]byte(line + "\n"))
		f.Add([]byte(line[:len(line)/2]))
	}
	f.Add([]byte(""))
	f.Add([]byte(" crc=00000000"))
	f.Add([]byte(seal(`1 2026-01-01T00:00:00.000000000Z PATCH: job=a factory=- epoch=0 ` +
		`stage=queued holder=- jepoch=0 expires=-`)))
	f.Add([]byte(seal(`1 2026-01-01T00:00:00.000000000Z SUBMIT job=a factory=- epoch=0 ` +
		"stage=queued holder=- jepoch=0 expires=- payload=`raw\nstring`")))
	f.Fuzz(func(t *testing.T, line []byte) {
		checkReparse(t, line)
		body := line
		if i := bytes.LastIndex(line, []byte(" crc=")); i >= 0 {
			body = line[:i]
		}
		checkReparse(t, []byte(seal(string(body))))
	})
}

func checkReparse(t *testing.T, line []byte) {
	e, err := ParseLine(line)
	if err != nil {
		if !errors.Is(err, ErrBadLine) {
			t.Fatalf("ParseLine(%q): error %v does not wrap ErrBadLine", line, err)
		}
		return
	}
	again := FormatLine(e)
	if strings.ContainsAny(again, "\n\r") {
		t.Fatalf("accepted %q, but it formats with a line break: %q", line, again)
	}
	e2, err := ParseLine([]byte(again + "\n"))
	if err != nil {
		t.Fatalf("accepted %q as %+v, but its formatted line %q fails: %v", line, e, again, err)
	}
	if e2 != e {
		t.Fatalf("accepted %q\n as %+v\nre-parsed %+v", line, e, e2)
	}
	if third := FormatLine(e2); third != again {
		t.Fatalf("format is not stable: %q then %q", again, third)
	}
}
