package follow

import (
	"fmt"

	"github.com/twofactory/twofactory/internal/coord"
)

// Decode parses a batch's lines with coord.ParseLine. It returns the events
// of the lines that parse, in order, and one error per line that does not,
// naming its index in the batch; each error wraps coord.ErrBadLine. A bad
// line does not stop the rest: a damaged line in the middle of a log is
// worth reporting, but the lines after it are still true.
func Decode(lines [][]byte) ([]coord.Event, []error) {
	events := make([]coord.Event, 0, len(lines))
	var errs []error
	for i, line := range lines {
		e, err := coord.ParseLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d of the batch: %w", i, err))
			continue
		}
		events = append(events, e)
	}
	return events, errs
}
