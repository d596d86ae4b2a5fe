package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressSnapshot is what the progress display shows.
type progressSnapshot struct {
	Total   int // migrations this run expects to send requests for; 0 when unknown
	Done    int // migrations finished this run, whatever the outcome
	OK      int // migrated, or found already linked
	Failed  int // failed or token rejected
	Skipped int // rows decided without a request (invalid, duplicate, done before)
	// RatePerMin is migrations finished per minute; 0 lets the display
	// compute it from elapsed time.
	RatePerMin float64
	// ETA is the expected time left; 0 or negative lets the display compute it.
	ETA   time.Duration
	Quota string // e.g. "812/1000 left"
	Phase string // e.g. "canary", "migrate", "quota-wait"
}

// progressView shows the progress of a run.
type progressView interface {
	Update(progressSnapshot)
	// Finish draws the last state and stops the display.
	Finish()
}

// newProgressView returns a progress bar when stderr is a terminal and plain
// periodic lines otherwise; quiet turns it off.
func (a *app) newProgressView(quiet bool, interval time.Duration) progressView {
	if quiet {
		return nopProgress{}
	}
	if a.stderrTTY {
		return newBarProgress(a.stderr, a.termWidth())
	}
	return newLineProgress(a.stderr, interval, time.Now)
}

type nopProgress struct{}

func (nopProgress) Update(progressSnapshot) {}
func (nopProgress) Finish()                 {}

// barProgress draws a progress bar with done/failed counts, rate and ETA.
type barProgress struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	bar   *progressbar.ProgressBar
	total int
	done  bool
}

func newBarProgress(w io.Writer, width int) *barProgress {
	return &barProgress{w: w, width: width}
}

func (p *barProgress) Update(s progressSnapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	if s.Total <= 0 && p.bar == nil {
		return // nothing to migrate yet (the pre-pass is reading the input)
	}
	if p.bar == nil || (s.Total != p.total && s.Total > 0) {
		if p.bar != nil {
			_ = p.bar.Finish()
			fmt.Fprintln(p.w)
		}
		p.total = s.Total
		max := int64(s.Total)
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("migrations"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetTheme(progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}),
		}
		if p.width > 0 {
			bw := p.width - 90
			if bw < 10 {
				bw = 10
			}
			if bw > 40 {
				bw = 40
			}
			opts = append(opts, progressbar.OptionSetWidth(bw))
		}
		p.bar = progressbar.NewOptions64(max, opts...)
	}
	p.bar.Describe(describe(s))
	_ = p.bar.Set(s.Done)
}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || p.bar == nil {
		p.done = true
		return
	}
	p.done = true
	_ = p.bar.Finish()
	fmt.Fprintln(p.w)
}

func describe(s progressSnapshot) string {
	d := fmt.Sprintf("ok %d, failed %d, skipped %d", s.OK, s.Failed, s.Skipped)
	if s.Quota != "" {
		d += ", quota " + s.Quota
	}
	if s.Phase != "" {
		d = s.Phase + ": " + d
	}
	return d
}

// lineProgress prints a plain progress line every interval, for logs and
// pipes, where a redrawn bar would be noise.
type lineProgress struct {
	mu       sync.Mutex
	w        io.Writer
	now      func() time.Time
	start    time.Time
	last     progressSnapshot
	printed  progressSnapshot
	havePrev bool
	stop     chan struct{}
	wg       sync.WaitGroup
	finished bool
}

func newLineProgress(w io.Writer, interval time.Duration, now func() time.Time) *lineProgress {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p := &lineProgress{w: w, now: now, start: now(), stop: make(chan struct{})}
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
				p.mu.Lock()
				if p.havePrev && p.last != p.printed {
					p.printLocked()
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
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
	p.printed = s
	elapsed := p.now().Sub(p.start)
	line := fmt.Sprintf("progress [%s]", elapsed.Truncate(time.Second))
	if s.Phase != "" {
		line += " " + s.Phase + ":"
	}
	if s.Total > 0 {
		line += fmt.Sprintf(" %d/%d migrations (%d%%)", s.Done, s.Total, s.Done*100/s.Total)
	} else {
		line += fmt.Sprintf(" %d migrations", s.Done)
	}
	line += fmt.Sprintf(", %d ok, %d failed, %d skipped", s.OK, s.Failed, s.Skipped)
	perMin := s.RatePerMin
	if secs := elapsed.Seconds(); perMin <= 0 && secs >= 1 && s.Done > 0 {
		perMin = float64(s.Done) / secs * 60
	}
	if perMin > 0 {
		line += fmt.Sprintf(", %.0f/min", perMin)
		eta := s.ETA
		if eta <= 0 && s.Total > s.Done {
			eta = time.Duration(float64(s.Total-s.Done) / perMin * float64(time.Minute))
		}
		if eta > 0 && s.Total > s.Done {
			line += ", ETA " + humanDuration(eta)
		}
	}
	if s.Quota != "" {
		line += ", quota " + s.Quota
	}
	fmt.Fprintln(p.w, line)
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
