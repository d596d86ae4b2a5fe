package bulk

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRunnerExportedFieldsAreConfiguration checks that a Runner's exported
// fields are what a caller configures: the only function-typed one is the
// OnProgress callback, so no clock or other test seam is part of the API.
func TestRunnerExportedFieldsAreConfiguration(t *testing.T) {
	callbacks := map[string]bool{"OnProgress": true}
	rt := reflect.TypeFor[Runner]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Func {
			continue
		}
		assert.True(t, callbacks[f.Name], "Runner.%s is an exported function field that is not a documented callback", f.Name)
	}
}
