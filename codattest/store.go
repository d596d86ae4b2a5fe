package codattest

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// company is the fake's record of a company.
type company struct {
	id          uid
	seq         uint64
	name        string
	description string
	tags        map[string]string
	created     time.Time
	conns       []*connection
	ops         []*pullOp
	opIdx       map[uid]*pullOp
	linked      int // connections in status Linked
}

// connection is the fake's record of a data connection.
type connection struct {
	id         uid
	co         *company
	integ      *integration
	status     string
	created    time.Time
	errors     []DataConnectionError
	authFields []string
	authFP     string
	authCount  int
}

// pullOp is the fake's record of a pull operation. Its status is computed
// from the clock: Queued, then Fetching, then its outcome.
type pullOp struct {
	id        uid
	conn      *connection
	connID    uid
	dataType  string
	requested time.Time
	authError bool // the outcome is AuthError rather than Complete
}

// store holds all state behind one lock. Companies are kept in creation
// order and indexed by id and by tag; connections and pull operations hang
// off their company.
type store struct {
	mu        sync.RWMutex
	companies map[uid]*company
	order     []*company // by seq
	tagIdx    map[string]map[string]map[*company]struct{}
	seq       uint64
	linked    atomic.Int64 // companies with at least one Linked connection
	conns     int
}

func newStore() *store {
	return &store{companies: map[uid]*company{}, tagIdx: map[string]map[string]map[*company]struct{}{}}
}

func (s *store) indexTagsLocked(co *company) {
	for k, v := range co.tags {
		byVal := s.tagIdx[k]
		if byVal == nil {
			byVal = map[string]map[*company]struct{}{}
			s.tagIdx[k] = byVal
		}
		set := byVal[v]
		if set == nil {
			set = map[*company]struct{}{}
			byVal[v] = set
		}
		set[co] = struct{}{}
	}
}

func (s *store) unindexTagsLocked(co *company) {
	for k, v := range co.tags {
		byVal := s.tagIdx[k]
		set := byVal[v]
		delete(set, co)
		if len(set) == 0 {
			delete(byVal, v)
		}
		if len(byVal) == 0 {
			delete(s.tagIdx, k)
		}
	}
}

func (s *store) addCompanyLocked(co *company) {
	s.seq++
	co.seq = s.seq
	s.companies[co.id] = co
	s.order = append(s.order, co)
	s.indexTagsLocked(co)
}

func (s *store) deleteCompanyLocked(co *company) {
	delete(s.companies, co.id)
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].seq >= co.seq })
	if i < len(s.order) && s.order[i] == co {
		copy(s.order[i:], s.order[i+1:])
		s.order[len(s.order)-1] = nil
		s.order = s.order[:len(s.order)-1]
	}
	s.unindexTagsLocked(co)
	if co.linked > 0 {
		s.linked.Add(-1)
	}
	s.conns -= len(co.conns)
}

func (s *store) setTagsLocked(co *company, tags map[string]string) {
	s.unindexTagsLocked(co)
	co.tags = tags
	s.indexTagsLocked(co)
}

// setStatusLocked changes a connection's status and keeps the counts of
// Linked connections (per company and of linked companies) exact.
func (s *store) setStatusLocked(cn *connection, status string) {
	was := cn.status == StatusLinked
	is := status == StatusLinked
	cn.status = status
	if was == is {
		return
	}
	co := cn.co
	if is {
		co.linked++
		if co.linked == 1 {
			s.linked.Add(1)
		}
	} else {
		co.linked--
		if co.linked == 0 {
			s.linked.Add(-1)
		}
	}
}

func (s *store) deleteConnectionLocked(cn *connection) {
	s.setStatusLocked(cn, StatusUnlinked)
	co := cn.co
	for i, c := range co.conns {
		if c == cn {
			co.conns = append(co.conns[:i], co.conns[i+1:]...)
			break
		}
	}
	s.conns--
}

func (co *company) connection(id uid) *connection {
	for _, c := range co.conns {
		if c.id == id {
			return c
		}
	}
	return nil
}

// pullView is a pull operation's state at some instant.
type pullView struct {
	status    string
	progress  int
	completed time.Time // zero while running
}

func (t timing) view(op *pullOp, now time.Time) pullView {
	el := now.Sub(op.requested)
	switch {
	case el < t.fetchAfter:
		return pullView{status: PullQueued}
	case el < t.completeAfter:
		span := t.completeAfter - t.fetchAfter
		p := 1
		if span > 0 {
			p = 1 + int(98*(el-t.fetchAfter)/span)
		}
		return pullView{status: PullFetching, progress: p}
	}
	v := pullView{status: PullComplete, progress: 100, completed: op.requested.Add(t.completeAfter)}
	if op.authError {
		v.status = PullAuthError
	}
	return v
}

type timing struct {
	fetchAfter, completeAfter time.Duration
}

func (t timing) running(op *pullOp, now time.Time) bool {
	return now.Sub(op.requested) < t.completeAfter
}

// lastSync returns when the latest successful pull of cn finished.
func (t timing) lastSync(co *company, cn *connection, now time.Time) time.Time {
	var last time.Time
	for _, op := range co.ops {
		if cn != nil && op.conn != cn {
			continue
		}
		if op.authError || t.running(op, now) {
			continue
		}
		if c := op.requested.Add(t.completeAfter); c.After(last) {
			last = c
		}
	}
	return last
}
