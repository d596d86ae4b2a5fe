package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/codat-migrate/codat/bulk"
)

// progressSnapshot is what the progress display shows.
type progressSnapshot struct {
	Total    int // migrations this run expects to send requests for; 0 when unknown
	Done     int // migrations finished this run, whatever the outcome
	OK       int // migrated, or found already linked
	Failed   int // failed or token rejected
	Skipped  int // rows decided without a request (invalid, duplicate, done before)
	InFlight int // migrations running now
	// RatePerMin is migrations finished per minute; 0 lets the display
	// compute it from elapsed time.
	RatePerMin float64
	// ETA is the expected time left; 0 or negative lets the display compute it.
	ETA   time.Duration
	Quota string // e.g. "812/1000 left"
	// Phase is what the run does, PhaseSince since when; Until is when a
	// wait ends (a rate-limit pause, the quota reset).
	Phase      bulk.Phase
	PhaseSince time.Time
	Until      time.Time
}

// phaseText describes the snapshot's phase for an operator, with how long a
// wait has lasted or has left at now; "" for the plain migrate phase.
func phaseText(s progressSnapshot, now time.Time) string {
	since := ""
	if !s.PhaseSince.IsZero() {
		since = humanDuration(now.Sub(s.PhaseSince).Truncate(time.Second))
	}
	left := ""
	if !s.Until.IsZero() {
		left = humanDuration(s.Until.Sub(now).Truncate(time.Second))
	}
	switch s.Phase {
	case bulk.PhaseScan:
		return "reading the export"
	case bulk.PhaseCanary:
		return "canary: migrating the first company; the rest wait for it"
	case bulk.PhaseCanarySync:
		return "canary: waiting for its first sync to complete, for " + since + " (a first sync can take many minutes)"
	case bulk.PhaseRateLimited:
		return fmt.Sprintf("paused by a rate limit until %s (%s left)", s.Until.UTC().Format("15:04:05 MST"), left)
	case bulk.PhaseQuotaWait:
		return fmt.Sprintf("daily quota spent: waiting for the quota reset at %s (%s left)", s.Until.UTC().Format("2006-01-02 15:04 MST"), left)
	case bulk.PhaseStopped:
		if s.InFlight > 0 {
			return fmt.Sprintf("stopping: %d migration(s) in flight finishing", s.InFlight)
		}
		return "stopped"
	case bulk.PhaseDone:
		return "done"
	}
	return ""
}

// waiting reports whether the phase can last long with nothing else
// changing.
func waiting(p bulk.Phase) bool {
	switch p {
	case bulk.PhaseCanarySync, bulk.PhaseRateLimited, bulk.PhaseQuotaWait, bulk.PhaseStopped:
		return true
	}
	return false
}

// progressView shows the progress of a run.
type progressView interface {
	Update(progressSnapshot)
	// Finish draws the last state and stops the display.
	Finish()
}

// newProgressView returns a status line when stderr is a terminal and plain
// periodic lines otherwise; quiet turns it off.
func (a *app) newProgressView(quiet bool, interval time.Duration) progressView {
	if quiet {
		return nopProgress{}
	}
	if c, ok := a.stderr.(*console); ok && a.stderrTTY {
		return newBarProgress(c, a.termWidth(), time.Now)
	}
	return newLineProgress(a.stderr, interval, time.Now)
}

type nopProgress struct{}

func (nopProgress) Update(progressSnapshot) {}
func (nopProgress) Finish()                 {}

// console is stderr when it is a terminal: it keeps a status line (the
// progress bar) at the bottom, and whatever else is written (log lines,
// messages) goes above it.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	status  string
	partial bool // the last write did not end a line
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != "" && !c.partial {
		_, _ = io.WriteString(c.w, "\r\x1b[K")
	}
	n, err := c.w.Write(p)
	c.partial = len(p) > 0 && p[len(p)-1] != '\n'
	if c.status != "" && !c.partial {
		_, _ = io.WriteString(c.w, c.status)
	}
	return n, err
}

// setStatus draws the status line in place of the last one.
func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = s
	if c.partial {
		return // drawn after the line being written ends
	}
	_, _ = io.WriteString(c.w, "\r\x1b[K"+s)
}

// endStatus leaves the last status line on the screen and stops drawing it.
func (c *console) endStatus() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != "" && !c.partial {
		_, _ = io.WriteString(c.w, "\n")
	}
	c.status = ""
}

// barProgress draws one status line: a bar, the counts, rate, ETA, quota
// and the phase, redrawn every second so that waits show their time.
type barProgress struct {
	mu       sync.Mutex
	c        *console
	width    int
	now      func() time.Time
	start    time.Time
	last     progressSnapshot
	have     bool
	finished bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newBarProgress(c *console, width int, now func() time.Time) *barProgress {
	p := &barProgress{c: c, width: width, now: now, start: now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.have && !p.finished {
					p.c.setStatus(p.lineLocked())
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *barProgress) Update(s progressSnapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.last, p.have = s, true
	p.c.setStatus(p.lineLocked())
}

func (p *barProgress) lineLocked() string {
	s := p.last
	now := p.now()
	var b strings.Builder
	const barWidth = 24
	if s.Total > 0 {
		filled := min(barWidth, s.Done*barWidth/s.Total)
		b.WriteString("[" + strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled) + "] ")
		fmt.Fprintf(&b, "%d/%d (%d%%) ", s.Done, s.Total, s.Done*100/s.Total)
	}
	b.WriteString(counts(s, now.Sub(p.start)))
	if t := phaseText(s, now); t != "" {
		b.WriteString(" · " + t)
	}
	line := b.String()
	if p.width > 0 && utf8.RuneCountInString(line) > p.width-1 {
		r := []rune(line)
		line = string(r[:max(p.width-2, 0)]) + "…"
	}
	return line
}

// counts is the part of a progress line after the bar: outcomes, rate, ETA,
// quota, elapsed time.
func counts(s progressSnapshot, elapsed time.Duration) string {
	line := fmt.Sprintf("%d ok, %d failed, %d skipped", s.OK, s.Failed, s.Skipped)
	perMin := s.RatePerMin
	if secs := elapsed.Seconds(); perMin <= 0 && secs >= 1 && s.Done > 0 {
		perMin = float64(s.Done) / secs * 60
	}
	if perMin > 0 {
		if perMin >= 1 {
			line += fmt.Sprintf(", %.0f/min", perMin)
		} else {
			line += fmt.Sprintf(", %.2f/min", perMin)
		}
		eta := s.ETA
		if eta <= 0 && s.Total > s.Done {
			eta = time.Duration(float64(s.Total-s.Done) / perMin * float64(time.Minute))
		}
		if eta > 0 && s.Total > s.Done && s.Phase != bulk.PhaseStopped {
			line += ", ETA " + humanDuration(eta)
		}
	}
	if s.Quota != "" {
		line += ", quota " + s.Quota
	}
	return line + ", " + humanDuration(elapsed.Truncate(time.Second)) + " elapsed"
}

// Finish draws the last state, at the real count, and leaves it on the
// screen.
func (p *barProgress) Finish() {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return
	}
	p.finished = true
	if p.have {
		p.c.setStatus(p.lineLocked())
		p.c.endStatus()
	}
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
}

// lineProgress prints a plain progress line every interval, for logs and
// pipes, where a redrawn bar would be noise: when something changed, when
// the phase changes, and during a long wait at least every twelve intervals
// (a minute at the default interval), so a log shows the run is alive.
type lineProgress struct {
	mu        sync.Mutex
	w         io.Writer
	now       func() time.Time
	start     time.Time
	last      progressSnapshot
	printed   progressSnapshot
	printedAt time.Time
	havePrev  bool
	heartbeat time.Duration
	stop      chan struct{}
	wg        sync.WaitGroup
	finished  bool
}

func newLineProgress(w io.Writer, interval time.Duration, now func() time.Time) *lineProgress {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p := &lineProgress{w: w, now: now, start: now(), stop: make(chan struct{}), heartbeat: 12 * interval}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.tick()
			}
		}
	}()
	return p
}

// tick prints a line if something changed since the last one, or if a
// long wait has gone on for a heartbeat.
func (p *lineProgress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.havePrev || p.finished {
		return
	}
	if p.last != p.printed || waiting(p.last.Phase) && p.now().Sub(p.printedAt) >= p.heartbeat {
		p.printLocked()
	}
}

func (p *lineProgress) Update(s progressSnapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	phaseChanged := p.havePrev && s.Phase != p.last.Phase
	p.last = s
	if !p.havePrev || phaseChanged {
		p.havePrev = true
		p.printLocked()
	}
}

func (p *lineProgress) printLocked() {
	s := p.last
	now := p.now()
	p.printed, p.printedAt = s, now
	elapsed := now.Sub(p.start)
	var b bytes.Buffer
	fmt.Fprintf(&b, "progress [%s]", elapsed.Truncate(time.Second))
	if s.Total > 0 {
		fmt.Fprintf(&b, " %d/%d migrations (%d%%),", s.Done, s.Total, s.Done*100/s.Total)
	} else {
		fmt.Fprintf(&b, " %d migrations,", s.Done)
	}
	c := counts(s, elapsed)
	c = c[:strings.LastIndex(c, ", ")] // the elapsed time is in brackets
	b.WriteString(" " + c)
	if t := phaseText(s, now); t != "" {
		b.WriteString("; " + t)
	}
	b.WriteByte('\n')
	_, _ = p.w.Write(b.Bytes())
}

func (p *lineProgress) Finish() {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return
	}
	p.finished = true
	if p.havePrev && p.last != p.printed {
		p.printLocked()
	}
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
}
