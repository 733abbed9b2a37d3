package admin

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

type fixedDir struct{ d *auth.Directory }

func (f fixedDir) Current() *auth.Directory { return f.d }

// TestQuotaUnreadable: with the quota store unable to read (Redis does not
// answer), the routes that report usage answer 503 service_unavailable,
// never a usage of zero; the in-memory counter answers 200.
func TestQuotaUnreadable(t *testing.T) {
	d, err := auth.NewDirectory([]auth.TenantConfig{
		{ID: "acme", DailyQuota: 10, Rate: 1, Burst: 1, Keys: []auth.KeyConfig{{ID: "acme-1", Key: "acme-key"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := quota.NewCalendar(time.UTC)

	cfg := stores.DefaultConfig()
	c := testkit.DownRedis(t, cfg)
	down := quota.NewRedis(c, quota.RedisOptions{Calendar: cal, Hold: time.Minute,
		TenantOf: func(string) string { return "acme" }})
	t.Cleanup(down.Close)

	for _, tc := range []struct {
		name  string
		q     QuotaReader
		want  int
		words string
	}{
		{"redis down", down, fiber.StatusServiceUnavailable, `"code":"service_unavailable"`},
		{"counter", quota.NewCounter(cal), fiber.StatusOK, `"tenant":"acme"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &api{Options{Dir: fixedDir{d}, Quota: tc.q, Calendar: cal, Now: time.Now}}
			app := fiber.New()
			app.Get("/admin/quota", a.quota)
			app.Get("/admin/tenants", a.listTenants)
			app.Get("/admin/tenants/:tenant", a.getTenant)
			for _, path := range []string{"/admin/quota", "/admin/tenants", "/admin/tenants/acme"} {
				resp, err := app.Test(httptest.NewRequest("GET", path, nil))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("%s: %d %s, want %d", path, resp.StatusCode, b, tc.want)
				}
				if path == "/admin/quota" && !strings.Contains(string(b), tc.words) {
					t.Fatalf("%s: %s lacks %s", path, b, tc.words)
				}
			}
		})
	}
}
