package codattest

import (
	"fmt"
	"sort"
	"time"
)

// Companies returns every company, oldest first, as GET would return it now.
func (s *Server) Companies() []Company {
	now := s.clock.Now()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Company, 0, len(s.st.order))
	for _, co := range s.st.order {
		out = append(out, s.renderCompanyLocked(co, now))
	}
	return out
}

// CompanyCount returns the number of companies.
func (s *Server) CompanyCount() int {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return len(s.st.order)
}

// ConnectionCount returns the number of connections of all companies.
func (s *Server) ConnectionCount() int {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return s.st.conns
}

// Company returns one company by id.
func (s *Server) Company(id string) (Company, bool) {
	u, ok := parseUID(id)
	if !ok {
		return Company{}, false
	}
	now := s.clock.Now()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co := s.st.companies[u]
	if co == nil {
		return Company{}, false
	}
	return s.renderCompanyLocked(co, now), true
}

// CompaniesWithTag returns the companies whose tag key equals value, oldest
// first, from the tag index.
func (s *Server) CompaniesWithTag(key, value string) []Company {
	now := s.clock.Now()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	set := s.st.tagIdx[key][value]
	cos := make([]*company, 0, len(set))
	for co := range set {
		cos = append(cos, co)
	}
	sort.Slice(cos, func(i, j int) bool { return cos[i].seq < cos[j].seq })
	out := make([]Company, 0, len(cos))
	for _, co := range cos {
		out = append(out, s.renderCompanyLocked(co, now))
	}
	return out
}

// Connections returns a company's connections, oldest first (nil if the
// company does not exist).
func (s *Server) Connections(companyID string) []Connection {
	var out []Connection
	s.readCompany(companyID, func(co *company, now time.Time) {
		out = make([]Connection, 0, len(co.conns))
		for _, cn := range co.conns {
			out = append(out, s.renderConnectionLocked(cn, now))
		}
	})
	return out
}

// Connection returns one connection.
func (s *Server) Connection(companyID, connectionID string) (Connection, bool) {
	for _, cn := range s.Connections(companyID) {
		if cn.ID == connectionID {
			return cn, true
		}
	}
	return Connection{}, false
}

// AllConnections returns the connections of every company, companies oldest
// first.
func (s *Server) AllConnections() []Connection {
	now := s.clock.Now()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Connection, 0, s.st.conns)
	for _, co := range s.st.order {
		for _, cn := range co.conns {
			out = append(out, s.renderConnectionLocked(cn, now))
		}
	}
	return out
}

// PullOperations returns a company's pull operations, oldest first, with
// their status as of the server's clock.
func (s *Server) PullOperations(companyID string) []PullOperation {
	var out []PullOperation
	s.readCompany(companyID, func(co *company, now time.Time) {
		out = make([]PullOperation, 0, len(co.ops))
		for _, op := range co.ops {
			out = append(out, s.renderPullOp(co, op, now))
		}
	})
	return out
}

// DataStatuses returns what GET /companies/{companyId}/dataStatus would.
func (s *Server) DataStatuses(companyID string) (map[string]DataStatus, bool) {
	var out map[string]DataStatus
	found := s.readCompany(companyID, func(co *company, now time.Time) {
		out = s.dataStatusesLocked(co, now)
	})
	return out, found
}

// readCompany calls f with the company and the clock's time, under the read
// lock; it reports false, without calling f, when there is no such company.
func (s *Server) readCompany(companyID string, f func(co *company, now time.Time)) bool {
	u, ok := parseUID(companyID)
	if !ok {
		return false
	}
	now := s.clock.Now()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co := s.st.companies[u]
	if co == nil {
		return false
	}
	f(co, now)
	return true
}

// SetConnectionStatus changes a connection's status as if it had happened on
// the platform's side (for example the customer revoked access:
// Deauthorized). Later pulls of a connection that is not Linked end in
// AuthError.
func (s *Server) SetConnectionStatus(companyID, connectionID, status string) error {
	switch status {
	case StatusPendingAuth, StatusLinked, StatusUnlinked, StatusDeauthorized:
	default:
		return fmt.Errorf("codattest: unknown connection status %q", status)
	}
	cu, ok1 := parseUID(companyID)
	nu, ok2 := parseUID(connectionID)
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if ok1 && ok2 {
		if co := s.st.companies[cu]; co != nil {
			if cn := co.connection(nu); cn != nil {
				s.st.setStatusLocked(cn, status)
				return nil
			}
		}
	}
	return fmt.Errorf("codattest: no connection %s of company %s", connectionID, companyID)
}
