package codattest

import "strings"

// route is one endpoint of the fake.
type route struct {
	method  string
	pattern string   // "/companies/{companyId}"
	name    string   // "GET /companies/{companyId}"
	segs    []string // literal segments, "" for a parameter
	handle  func(*Server, *call) reply
}

// Route patterns, as they appear in Request.Route and Fault.Route after the
// method.
const (
	RouteCompanies      = "/companies"
	RouteCompany        = "/companies/{companyId}"
	RouteConnections    = "/companies/{companyId}/connections"
	RouteConnection     = "/companies/{companyId}/connections/{connectionId}"
	RouteAuthorization  = "/companies/{companyId}/connections/{connectionId}/authorization"
	RouteDataAll        = "/companies/{companyId}/data/all"
	RouteDataQueue      = "/companies/{companyId}/data/queue/{dataType}"
	RouteDataStatus     = "/companies/{companyId}/dataStatus"
	RoutePullOperations = "/companies/{companyId}/data/history"
	RoutePullOperation  = "/companies/{companyId}/data/history/{datasetId}"
	RouteIntegrations   = "/integrations"
	RouteIntegration    = "/integrations/{platformKey}"
)

func buildRoutes() []*route {
	defs := []struct {
		method, pattern string
		h               func(*Server, *call) reply
	}{
		{"GET", RouteCompanies, (*Server).listCompanies},
		{"POST", RouteCompanies, (*Server).createCompany},
		{"GET", RouteCompany, (*Server).getCompany},
		{"PUT", RouteCompany, (*Server).replaceCompany},
		{"PATCH", RouteCompany, (*Server).updateCompany},
		{"DELETE", RouteCompany, (*Server).deleteCompany},
		{"GET", RouteConnections, (*Server).listConnections},
		{"POST", RouteConnections, (*Server).createConnection},
		{"GET", RouteConnection, (*Server).getConnection},
		{"DELETE", RouteConnection, (*Server).deleteConnection},
		{"PATCH", RouteConnection, (*Server).unlinkConnection},
		{"PUT", RouteAuthorization, (*Server).updateAuthorization},
		{"POST", RouteDataAll, (*Server).refreshAll},
		{"POST", RouteDataQueue, (*Server).refreshDataType},
		{"GET", RouteDataStatus, (*Server).dataStatus},
		{"GET", RoutePullOperations, (*Server).listPullOperations},
		{"GET", RoutePullOperation, (*Server).getPullOperation},
		{"GET", RouteIntegrations, (*Server).listIntegrations},
		{"GET", RouteIntegration, (*Server).getIntegration},
	}
	out := make([]*route, 0, len(defs))
	for _, d := range defs {
		rt := &route{method: d.method, pattern: d.pattern, name: d.method + " " + d.pattern, handle: d.h}
		for _, seg := range strings.Split(strings.TrimPrefix(d.pattern, "/"), "/") {
			if strings.HasPrefix(seg, "{") {
				seg = ""
			}
			rt.segs = append(rt.segs, seg)
		}
		out = append(out, rt)
	}
	return out
}

// Routes returns every route the fake serves, as "METHOD /pattern".
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.name
	}
	return out
}

// match finds the route for method and path. When the path matches a route
// of another method only, methodOK is true (405).
func (s *Server) match(method, path string) (rt *route, params [2]string, pathMatched bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, params, false
	}
	var parts [8]string
	n := 0
	rest := path[1:]
	for {
		if n == len(parts) {
			return nil, params, false
		}
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			parts[n] = rest
			n++
			break
		}
		parts[n] = rest[:i]
		n++
		rest = rest[i+1:]
	}
	for _, r := range s.routes {
		if len(r.segs) != n {
			continue
		}
		var p [2]string
		np := 0
		ok := true
		for i, seg := range r.segs {
			if seg == "" {
				if parts[i] == "" || np == len(p) {
					ok = false
					break
				}
				p[np] = parts[i]
				np++
			} else if seg != parts[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r.method == method {
			return r, p, true
		}
		pathMatched = true
	}
	return nil, params, pathMatched
}
