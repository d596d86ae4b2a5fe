package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// interruptWatcher turns Ctrl-C into a clean stop. The first SIGINT (or
// SIGTERM) calls onFirst, which stops new work from starting while work in
// flight finishes and is journaled; the second calls onSecond, which cancels
// the work in flight at once (it is journaled and reported incomplete, and
// the report is completed); a third ends the process at once.
type interruptWatcher struct {
	a         *app
	ch        chan os.Signal
	owned     bool
	quit      chan struct{}
	wg        sync.WaitGroup
	count     atomic.Int32
	onFirst   func()
	onSecond  func()
	firstMsg  string
	secondMsg string
	thirdMsg  string
}

// watchInterrupts starts watching for interrupt signals. Call Stop when the
// work is over.
func (a *app) watchInterrupts(onFirst, onSecond func(), firstMsg, secondMsg, thirdMsg string) *interruptWatcher {
	w := &interruptWatcher{a: a, ch: a.signals, quit: make(chan struct{}), onFirst: onFirst, onSecond: onSecond,
		firstMsg: firstMsg, secondMsg: secondMsg, thirdMsg: thirdMsg}
	if w.ch == nil {
		w.ch = make(chan os.Signal, 2)
		w.owned = true
		signal.Notify(w.ch, os.Interrupt, syscall.SIGTERM)
	}
	w.wg.Add(1)
	go w.loop()
	return w
}

func (w *interruptWatcher) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.quit:
			return
		case <-w.ch:
			switch w.count.Add(1) {
			case 1:
				fmt.Fprintf(w.a.stderr, "\n%s\n", w.firstMsg)
				if w.onFirst != nil {
					w.onFirst()
				}
			case 2:
				fmt.Fprintf(w.a.stderr, "\n%s\n", w.secondMsg)
				if w.onSecond != nil {
					w.onSecond()
				}
			default:
				fmt.Fprintf(w.a.stderr, "\n%s\n", w.thirdMsg)
				w.a.hardExit(exitInterrupted)
				return
			}
		}
	}
}

// Interrupted reports whether at least one interrupt arrived.
func (w *interruptWatcher) Interrupted() bool { return w.count.Load() > 0 }

// Stop stops watching and restores the default signal behaviour.
func (w *interruptWatcher) Stop() {
	if w.owned {
		signal.Stop(w.ch)
	}
	close(w.quit)
	w.wg.Wait()
}
