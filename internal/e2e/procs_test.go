package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proc is a live process found in /proc.
type proc struct {
	pid, ppid int
	argv      []string
}

// String shows a process as its pid and command line.
func (p proc) String() string { return fmt.Sprintf("%d %q", p.pid, p.argv) }

// markedProcs lists the live processes whose environment carries runMarker
// with value mark. Processes that exit during the scan, and zombies (whose
// environment cannot be read), are not listed.
func markedProcs(mark string) []proc {
	want := []byte(runMarker + "=" + mark + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []proc
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		if p, ok := readProc(d); ok {
			out = append(out, p)
		}
	}
	return out
}

// readProc reads a process's command line and parent from its /proc dir.
func readProc(dir string) (proc, bool) {
	pid, err := strconv.Atoi(filepath.Base(dir))
	if err != nil {
		return proc{}, false
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return proc{}, false
	}
	st, err := readStat(pid)
	if err != nil {
		return proc{}, false
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return proc{pid: pid, ppid: st.ppid, argv: argv}, true
}

// stat is what the tests read of /proc/<pid>/stat.
type stat struct {
	ppid     int
	cpuTicks int64 // user + system time, in clock ticks
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from its closing ")".
func readStat(pid int) (stat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("stat of %d: no command name in %q", pid, data)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return stat{}, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return stat{}, fmt.Errorf("stat of %d: bad numbers in %q", pid, data)
	}
	return stat{ppid: ppid, cpuTicks: utime + stime}, nil
}

// demoProc finds the run's demo process: the marked process running bin
// whose parent is not itself bin (coordinator, factories and executors
// are children of the demo, or of a factory).
func demoProc(mark, bin string) (proc, bool) {
	procs := markedProcs(mark)
	isBin := map[int]bool{}
	for _, p := range procs {
		isBin[p.pid] = len(p.argv) > 0 && p.argv[0] == bin
	}
	for _, p := range procs {
		if isBin[p.pid] && !isBin[p.ppid] {
			return p, true
		}
	}
	return proc{}, false
}
