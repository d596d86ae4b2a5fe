package codattest

import (
	"net/http"
	"strconv"
	"time"
)

func (in *integration) supports(dataType string) bool {
	for _, t := range in.dataTypes {
		if t == dataType {
			return true
		}
	}
	return false
}

// pullable reports whether a connection takes part in refreshes: Linked
// connections pull; Deauthorized ones are attempted and end in AuthError.
func pullable(cn *connection) bool {
	return cn.status == StatusLinked || cn.status == StatusDeauthorized
}

// runningLocked returns the unfinished pull of dataType on cn, if any.
func (s *Server) runningLocked(co *company, cn *connection, dataType string, now time.Time) *pullOp {
	for i := len(co.ops) - 1; i >= 0; i-- {
		op := co.ops[i]
		if op.conn == cn && op.dataType == dataType && s.timing.running(op, now) {
			return op
		}
	}
	return nil
}

func (s *Server) queueLocked(co *company, cn *connection, dataType string, now time.Time) *pullOp {
	op := &pullOp{id: s.ids.next(), conn: cn, connID: cn.id, dataType: dataType, requested: now,
		authError: cn.status != StatusLinked}
	co.ops = append(co.ops, op)
	if co.opIdx == nil {
		co.opIdx = map[uid]*pullOp{}
	}
	co.opIdx[op.id] = op
	return op
}

func (s *Server) renderPullOp(co *company, op *pullOp, now time.Time) PullOperation {
	v := s.timing.view(op, now)
	w := PullOperation{ID: op.id.String(), CompanyID: co.id.String(), ConnectionID: op.connID.String(),
		DataType: op.dataType, Status: v.status, Requested: wireTime(op.requested), Progress: v.progress}
	if !v.completed.IsZero() {
		w.Completed = wireTime(v.completed)
		switch v.status {
		case PullComplete:
			w.IsCompleted = true
		case PullAuthError:
			w.IsErrored = true
			w.ErrorMessage = "The data connection is not authorized; the company must link it again"
		}
	}
	return w
}

// POST /companies/{companyId}/data/all: 204. Queues every configured data
// type of every Linked or Deauthorized connection that is not already being
// pulled.
func (s *Server) refreshAll(c *call) reply {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	for _, cn := range co.conns {
		if !pullable(cn) {
			continue
		}
		for _, t := range cn.integ.dataTypes {
			if s.runningLocked(co, cn, t, c.now) == nil {
				s.queueLocked(co, cn, t, c.now)
			}
		}
	}
	return reply{status: http.StatusNoContent}
}

// POST /companies/{companyId}/data/queue/{dataType}[?connectionId=]: 200
// PullOperation. 400 for a key outside the contract's data types, a
// connection that is not linked, or a pull of that type still in progress;
// 404 when no connection supports the type.
func (s *Server) refreshDataType(c *call) reply {
	dataType := c.params[1]
	if !isDataType(dataType) {
		return s.errorReply(http.StatusBadRequest, dataType+" is not a data type", nil)
	}
	q := c.r.URL.Query()
	var want uid
	explicit := false
	if v := q.Get("connectionId"); v != "" {
		id, ok := parseUID(v)
		if !ok {
			return s.errorReply(http.StatusBadRequest, "connectionId must be a uuid", nil)
		}
		want, explicit = id, true
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	var cn *connection
	if explicit {
		cn = co.connection(want)
		if cn == nil {
			return s.errorReply(http.StatusNotFound, "Data connection "+want.String()+" not found", nil)
		}
		if !pullable(cn) {
			return s.errorReply(http.StatusBadRequest, "Data connection "+want.String()+" is "+cn.status+", not Linked", nil)
		}
		if !cn.integ.supports(dataType) {
			return s.errorReply(http.StatusNotFound, dataType+" is not supported by "+cn.integ.wire.Name, nil)
		}
	} else {
		for _, x := range co.conns {
			if pullable(x) && x.integ.supports(dataType) {
				cn = x
				break
			}
		}
		if cn == nil {
			return s.errorReply(http.StatusNotFound, "No linked data connection of company "+co.id.String()+" supports "+dataType, nil)
		}
	}
	if op := s.runningLocked(co, cn, dataType, c.now); op != nil {
		return s.errorReply(http.StatusBadRequest, "DatasetAlreadyInProgressException: Cannot queue "+dataType+" sync for "+
			co.id.String()+" as previous sync "+op.id.String()+" is still in progress", nil)
	}
	op := s.queueLocked(co, cn, dataType, c.now)
	return jsonReply(http.StatusOK, s.renderPullOp(co, op, c.now))
}

// GET /companies/{companyId}/dataStatus: the latest pull per data type.
// Types never pulled are left out.
func (s *Server) dataStatus(c *call) reply {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	return jsonReply(http.StatusOK, s.dataStatusesLocked(co, c.now))
}

func (s *Server) dataStatusesLocked(co *company, now time.Time) map[string]DataStatus {
	out := map[string]DataStatus{}
	for _, op := range co.ops { // oldest first: later pulls overwrite
		v := s.timing.view(op, now)
		ds := out[op.dataType]
		ds.DataType = op.dataType
		ds.CurrentStatus = v.status
		ds.LatestSyncID = op.id.String()
		if v.status == PullComplete {
			ds.LastSuccessfulSync = wireTime(v.completed)
			ds.LatestSuccessfulSyncID = op.id.String()
		}
		out[op.dataType] = ds
	}
	return out
}

var pullFields = map[string]bool{"id": true, "connectionId": true, "dataType": true, "status": true,
	"requested": true, "completed": true, "progress": true, "isErrored": true}

func (s *Server) pullField(now time.Time) fieldFunc[*pullOp] {
	return func(op *pullOp, f string) (string, bool) {
		switch f {
		case "id":
			return op.id.String(), true
		case "connectionId":
			return op.connID.String(), true
		case "dataType":
			return op.dataType, true
		case "requested":
			return wireTime(op.requested), true
		}
		v := s.timing.view(op, now)
		switch f {
		case "status":
			return v.status, true
		case "progress":
			return strconv.Itoa(v.progress), true
		case "isErrored":
			return strconv.FormatBool(v.status == PullAuthError), true
		case "completed":
			if !v.completed.IsZero() {
				return wireTime(v.completed), true
			}
		}
		return "", false
	}
}

// GET /companies/{companyId}/data/history: pull operations, oldest first.
func (s *Server) listPullOperations(c *call) reply {
	p, qe, ord, bad := s.listSetup(c, pullFields)
	if bad != nil {
		return *bad
	}
	field := s.pullField(c.now)
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co, nf := s.companyLocked(c)
	if nf != nil {
		return *nf
	}
	filtered := co.ops
	if qe != nil || ord != nil {
		filtered = make([]*pullOp, 0, len(co.ops))
		for _, op := range co.ops {
			if evalExpr(qe, op, field) {
				filtered = append(filtered, op)
			}
		}
	}
	if ord != nil {
		sortBy(filtered, *ord, field)
	}
	start, end := p.window(len(filtered))
	out := make([]PullOperation, 0, end-start)
	for _, op := range filtered[start:end] {
		out = append(out, s.renderPullOp(co, op, c.now))
	}
	return jsonReply(http.StatusOK, makePage(c.r.URL.Path, p, out, len(filtered)))
}

// GET /companies/{companyId}/data/history/{datasetId}
func (s *Server) getPullOperation(c *call) reply {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	co, bad := s.companyLocked(c)
	if bad != nil {
		return *bad
	}
	if id, ok := parseUID(c.params[1]); ok {
		if op := co.opIdx[id]; op != nil {
			return jsonReply(http.StatusOK, s.renderPullOp(co, op, c.now))
		}
	}
	return s.errorReply(http.StatusNotFound, "Pull operation "+c.params[1]+" not found", nil)
}

var integrationFields = map[string]bool{"key": true, "name": true, "sourceType": true, "enabled": true,
	"sourceId": true, "integrationId": true, "isOfflineConnector": true, "isBeta": true}

func integrationField(in *integration, f string) (string, bool) {
	w := in.wire
	switch f {
	case "key":
		return w.Key, true
	case "name":
		return w.Name, true
	case "sourceType":
		return w.SourceType, true
	case "enabled":
		return strconv.FormatBool(w.Enabled), true
	case "sourceId":
		return w.SourceID, true
	case "integrationId":
		return w.IntegrationID, true
	case "isOfflineConnector":
		return strconv.FormatBool(w.IsOfflineConnector), true
	case "isBeta":
		return strconv.FormatBool(w.IsBeta), true
	}
	return "", false
}

// GET /integrations: the registry, ordered by name.
func (s *Server) listIntegrations(c *call) reply {
	p, qe, ord, bad := s.listSetup(c, integrationFields)
	if bad != nil {
		return *bad
	}
	all := s.cfg.sorted
	filtered := all
	if qe != nil || ord != nil {
		filtered = make([]*integration, 0, len(all))
		for _, in := range all {
			if evalExpr(qe, in, integrationField) {
				filtered = append(filtered, in)
			}
		}
	}
	if ord != nil {
		sortBy(filtered, *ord, integrationField)
	}
	start, end := p.window(len(filtered))
	out := make([]Integration, 0, end-start)
	for _, in := range filtered[start:end] {
		out = append(out, in.wire)
	}
	return jsonReply(http.StatusOK, makePage(RouteIntegrations, p, out, len(filtered)))
}

// GET /integrations/{platformKey}
func (s *Server) getIntegration(c *call) reply {
	if in := s.cfg.integrations[c.params[0]]; in != nil {
		return jsonReply(http.StatusOK, in.wire)
	}
	return s.errorReply(http.StatusNotFound, "Integration "+c.params[0]+" not found", nil)
}
