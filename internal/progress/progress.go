package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports progress of a known number of steps. A nil *Bar or one with a nil writer is silent.
type Bar struct {
	w         io.Writer
	label     string
	total     int
	start     time.Time
	last      time.Time
	tty       bool
	every     time.Duration
	lastWidth int
	now       func() time.Time
}

// New returns a bar over total steps writing to w (nil: silent).
func New(w io.Writer, label string, total int) *Bar {
	b := &Bar{w: w, label: label, total: max(total, 1), now: time.Now}
	b.start = b.now()
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	b.every = 10 * time.Second
	if b.tty {
		b.every = 100 * time.Millisecond
	}
	return b
}

// Update reports that done steps are finished; info is appended (e.g. "loss 1.23").
func (b *Bar) Update(done int, info string) {
	if b == nil || b.w == nil {
		return
	}
	now := b.now()
	if done < b.total && now.Sub(b.last) < b.every {
		return
	}
	b.last = now
	line := b.line(done, info, now)
	if b.tty {
		pad := ""
		if n := b.lastWidth - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(b.w, "\r%s%s", line, pad)
		b.lastWidth = len(line)
		if done >= b.total {
			fmt.Fprintln(b.w)
		}
		return
	}
	fmt.Fprintln(b.w, line)
}

func (b *Bar) line(done int, info string, now time.Time) string {
	frac := float64(done) / float64(b.total)
	const width = 20
	filled := min(int(frac*width), width)
	el := now.Sub(b.start)
	eta := "?"
	if done > 0 {
		eta = fmtDur(time.Duration(float64(el) * (1/frac - 1)))
	}
	s := fmt.Sprintf("%s [%s%s] %d/%d %s ETA %s", b.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		done, b.total, fmtDur(el), eta)
	if info != "" {
		s += " " + info
	}
	return s
}

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
