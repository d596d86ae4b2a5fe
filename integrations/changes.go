package integrations

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Changes is what LoadPostman, LoadSpec or Register changed in a registry.
type Changes struct {
	// Added lists platforms the registry did not have.
	Added []PlatformChange
	// Overridden lists platforms whose fields were replaced (also when the
	// loaded fields equal the old ones: the evidence is now Loaded).
	Overridden []PlatformChange
}

// PlatformChange describes one added or overridden platform.
type PlatformChange struct {
	Key, Name string
	// Fields are the wire names now registered, in order.
	Fields []string
	// Previous are the wire names before an override; nil for an added platform.
	Previous []string
	// Renamed maps an old wire name to the new one, for loaded fields that were
	// matched to an existing field (by name, alias or role) under another name.
	Renamed map[string]string
	// Source is the new evidence source.
	Source string
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added) == 0 && len(c.Overridden) == 0 }

// String lists the changes, one platform a line:
//
//	added wvzu (Kashflow): accessToken, refreshToken
//	overridden qhyg (QuickBooks Online): realmId, accessToken, refresh_token (renamed refreshToken → refresh_token; removed expiresAt)
func (c Changes) String() string {
	if c.Empty() {
		return "no changes"
	}
	var lines []string
	for _, a := range c.Added {
		lines = append(lines, fmt.Sprintf("added %s (%s): %s", a.Key, a.Name, strings.Join(a.Fields, ", ")))
	}
	for _, o := range c.Overridden {
		line := fmt.Sprintf("overridden %s (%s): %s", o.Key, o.Name, strings.Join(o.Fields, ", "))
		if notes := o.notes(); notes != "" {
			line += " (" + notes + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (o PlatformChange) notes() string {
	var notes []string
	if len(o.Renamed) > 0 {
		olds := make([]string, 0, len(o.Renamed))
		for old := range o.Renamed {
			olds = append(olds, old)
		}
		sort.Strings(olds)
		var rs []string
		for _, old := range olds {
			rs = append(rs, old+" → "+o.Renamed[old])
		}
		notes = append(notes, "renamed "+strings.Join(rs, ", "))
	}
	var added, removed []string
	renamedTo := make(map[string]bool)
	for _, nw := range o.Renamed {
		renamedTo[nw] = true
	}
	for _, f := range o.Fields {
		if !slices.Contains(o.Previous, f) && !renamedTo[f] {
			added = append(added, f)
		}
	}
	for _, f := range o.Previous {
		if !slices.Contains(o.Fields, f) && o.Renamed[f] == "" {
			removed = append(removed, f)
		}
	}
	if len(added) > 0 {
		notes = append(notes, "new "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		notes = append(notes, "removed "+strings.Join(removed, ", "))
	}
	if len(notes) == 0 {
		return "fields unchanged"
	}
	return strings.Join(notes, "; ")
}
