package bulk

import (
	"context"
	"fmt"

	"github.com/codat-migrate/codat"
)

// accountKeep selects what the account check keeps of the listing: refs
// (codat.RefTagKey tags) and tenant tags (codat.TenantTagKey). Each is
// asked about a page of the listing at a time, and reports which it keeps.
type accountKeep struct {
	refs func(ctx context.Context, refs []string) ([]bool, error)
	tags func(ctx context.Context, tags []string) ([]bool, error)
}

// tagKey is the key of a tenant tag (codat.TenantTag) in the account
// check's map.
func tagKey(tag string) key { return keyOf('g', tag) }

// clientRefs lists every company of the account through c, 5,000 a page,
// and returns, with the requests the listing took, the refs keep.refs
// accepts (refKey(ref) → "") and the tenant tags keep.tags accepts
// (tagKey(tag) → the ref of the company that carries it).
func clientRefs(c *codat.Client) func(ctx context.Context, keep accountKeep) (map[key]string, int, error) {
	return func(ctx context.Context, keep accountKeep) (map[key]string, int, error) {
		// The listing's own requests, counted from what it read: the
		// client's counter also counts the migrations in flight meanwhile.
		seen := 0
		pages := func() int { return seen/codat.MaxPageSize + 1 }
		found := map[key]string{}
		var page []codat.Company
		for co, err := range c.Companies.All(ctx, &codat.ListOptions{PageSize: codat.MaxPageSize}) {
			if err != nil {
				return nil, pages(), err
			}
			seen++
			if page = append(page, co); len(page) == codat.MaxPageSize {
				if err := keep.add(ctx, found, page); err != nil {
					return nil, pages(), err
				}
				page = page[:0]
			}
		}
		if err := keep.add(ctx, found, page); err != nil {
			return nil, pages(), err
		}
		if seen > 0 && seen%codat.MaxPageSize == 0 {
			return found, seen / codat.MaxPageSize, nil
		}
		return found, pages(), nil
	}
}

// add adds to found what keep keeps of page, a page of the listing.
func (keep accountKeep) add(ctx context.Context, found map[key]string, page []codat.Company) error {
	var refs, tags, tagRefs []string
	for _, co := range page {
		ref := co.Tags[codat.RefTagKey]
		if ref == "" {
			continue
		}
		refs = append(refs, ref)
		if tag := co.Tags[codat.TenantTagKey]; tag != "" {
			tags, tagRefs = append(tags, tag), append(tagRefs, ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	kept, err := keep.refs(ctx, refs)
	if err != nil {
		return err
	}
	for i, ref := range refs {
		if kept[i] {
			found[refKey(ref)] = ""
		}
	}
	if keep.tags == nil || len(tags) == 0 {
		return nil
	}
	if kept, err = keep.tags(ctx, tags); err != nil {
		return err
	}
	for i, tag := range tags {
		if kept[i] {
			found[tagKey(tag)] = tagRefs[i]
		}
	}
	return nil
}

// accountFilter returns the refs the account check keeps: those of valid
// input rows that the journal (if any) does not know.
func accountFilter(idx rowIndex, st Store) accountKeep {
	return accountKeep{
		refs: func(ctx context.Context, refs []string) ([]bool, error) {
			kept, err := idx.hasRefs(ctx, refs)
			if err != nil || st == nil {
				return kept, err
			}
			for i, ref := range refs {
				if !kept[i] {
					continue
				}
				e, err := st.Get(ctx, ref)
				if err != nil {
					return nil, err
				}
				kept[i] = e == nil
			}
			return kept, nil
		},
		tags: idx.hasTags,
	}
}

// checkAccount is the account check (see Runner.SkipAccountCheck): it lists
// the account's companies and keeps the input refs the journal does not
// know that a company is tagged with. It runs once, when the second pass
// meets the first row to migrate that the journal does not know, and not at
// all when the run has stopped by then. When it cannot list them, the run
// stops before migrating any such row: pending-quota for a spent quota,
// not-started otherwise.
func (x *run) checkAccount(idx rowIndex) {
	if x.stoppedStatus() != "" || x.stop.startErr() != nil {
		return
	}
	for pauses := 1; ; pauses++ {
		found, n, err := x.s.listRefs(x.stop.start, accountFilter(idx, x.st))
		x.mu.Lock()
		x.sum.AccountCheckRequests += n
		x.mu.Unlock()
		if err == nil {
			x.cl.inCodat = found
			return
		}
		if cause := x.stop.startErr(); cause != nil {
			x.stopWith(&stop{status: StatusNotStarted, err: cause}, false)
			return
		}
		if rl, ok := codat.RateLimitOf(err); ok {
			if x.rateLimited(rl, pauses) == nil {
				continue
			}
			return
		}
		x.stopWith(&stop{status: StatusNotStarted, err: fmt.Errorf("bulk: the account check (listing the companies, to find refs "+
			"already in Codat) failed, so nothing was migrated; rerun, or set SkipAccountCheck if the journal records every "+
			"earlier run: %w", err)}, true)
		return
	}
}
