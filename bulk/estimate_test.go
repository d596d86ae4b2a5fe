package bulk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codat-migrate/codat"
)

func TestRequestsPerCompany(t *testing.T) {
	assert.Equal(t, 4, RequestsPerCompany(codat.SyncQueue))
	assert.Equal(t, 3, RequestsPerCompany(codat.SyncNone))
	assert.Equal(t, 4+EstimatedWaitPolls, RequestsPerCompany(codat.SyncWait))
}

func TestEstimateFreshAccount(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// 8,000 companies at 4 requests from an account with no ACC and no
	// snapshot: day one has 1,000 requests = 250 companies; day two has
	// 1,000 × (1 + 250) = 251,000 requests, enough for the other 7,750,
	// which at 1,000 requests a minute take 31 minutes.
	est := EstimateSchedule(Schedule{Companies: 8000, RequestsPerCompany: 4, Now: now})
	require.Len(t, est.Days, 2)
	assert.Equal(t, 250, est.Days[0].Companies)
	assert.Equal(t, 1000, est.Days[0].Quota)
	assert.Equal(t, 0, est.Days[0].ACC)
	assert.Equal(t, now.Add(time.Minute), est.Days[0].End, "1,000 requests at 1,000 a minute")
	midnight := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, midnight, est.Days[1].Start)
	assert.Equal(t, 250, est.Days[1].ACC)
	assert.Equal(t, 251000, est.Days[1].Quota)
	assert.Equal(t, 7750, est.Days[1].Companies)
	assert.Equal(t, midnight.Add(31*time.Minute), est.Finish)
	assert.Equal(t, est.Finish.Sub(now), est.Duration)
}

func TestEstimateFromSnapshotAndOverhead(t *testing.T) {
	now := time.Date(2025, 3, 1, 23, 0, 0, 0, time.UTC)
	reset := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	// Limit 3,000 means ACC 2; 100 left today, 20 of them for the canary.
	q := codat.Quota{Limit: 3000, Remaining: 100, Reset: reset, Observed: now}
	est := EstimateSchedule(Schedule{Companies: 10000, RequestsPerCompany: 4, Overhead: 20, Quota: q, Now: now})
	require.Len(t, est.Days, 3)
	assert.Equal(t, 20, est.Days[0].Companies, "(100 − 20) / 4")
	assert.Equal(t, 2, est.Days[0].ACC)
	assert.Equal(t, 22, est.Days[1].ACC)
	assert.Equal(t, 23000, est.Days[1].Quota)
	assert.Equal(t, 23000/4, est.Days[1].Companies)
	assert.Equal(t, 10000-20-5750, est.Days[2].Companies)
	assert.Equal(t, 2+20+5750, est.Days[2].ACC)
	assert.Equal(t, reset.Add(24*time.Hour), est.Days[2].Start)
}

func TestEstimateMinuteRateCapsADay(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	// A huge quota (ACC 1,000) is capped by 10 requests a minute: 1,440
	// minutes × 10 / 4 = 3,600 companies a day.
	q := codat.Quota{Limit: 1001000, Remaining: 1001000, Reset: now.Add(24 * time.Hour), Observed: now}
	est := EstimateSchedule(Schedule{Companies: 5000, RequestsPerCompany: 4, Quota: q, Now: now, RequestsPerMinute: 10})
	require.Len(t, est.Days, 2)
	assert.Equal(t, 3600, est.Days[0].Companies)
	assert.Equal(t, 1400, est.Days[1].Companies)
}

func TestEstimateEdgeCases(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	est := EstimateSchedule(Schedule{Now: now})
	assert.Empty(t, est.Days)
	assert.Equal(t, now, est.Finish)
	assert.Zero(t, est.Duration)

	// A stale snapshot (its reset passed) counts as a fresh day at its limit.
	q := codat.Quota{Limit: 2000, Remaining: 0, Reset: now.Add(-time.Hour), Observed: now.Add(-2 * time.Hour)}
	est = EstimateSchedule(Schedule{Companies: 10, RequestsPerCompany: 4, Quota: q, Now: now})
	require.Len(t, est.Days, 1)
	assert.Equal(t, 10, est.Days[0].Companies)

	// An overhead above the day's quota leaves day one empty.
	est = EstimateSchedule(Schedule{Companies: 10, RequestsPerCompany: 4, Overhead: 5000, Now: now})
	require.Len(t, est.Days, 1)
	assert.Equal(t, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC), est.Days[0].Start)
}
