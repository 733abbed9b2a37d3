package identity

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestGeneratedIdentitiesPassTheRealValidation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ethnic := map[string]int{}
	dotted := 0
	for i := 0; i < 2000; i++ {
		id := GenerateAt(r, now)
		req := id.CheckRequest()
		if rej := contracts.Validate(&req, now); rej != nil {
			t.Fatalf("identity %d %+v rejected: %+v", i, id, rej)
		}
		num, err := idcard.ParseAt(id.IDCard, now)
		if err != nil {
			t.Fatal(err)
		}
		if num.Gender() != id.Gender || !num.Birth.Equal(id.Birth) {
			t.Fatalf("number %s disagrees with gender %v / birth %v", id.IDCard, id.Gender, id.Birth)
		}
		if _, magic := contracts.LookupMagic(id.IDCard); magic {
			t.Fatalf("generated a magic identity %s", id.IDCard)
		}
		if !strings.HasPrefix(id.Address, idcard.RegionName(num.Division)) {
			t.Fatalf("address %q outside %s", id.Address, num.Division)
		}
		if !strings.HasSuffix(id.IssuingAuthority, "公安局") && !strings.HasSuffix(id.IssuingAuthority, "分局") {
			t.Fatalf("authority %q", id.IssuingAuthority)
		}
		if end := id.ValidityEnd; end != contracts.LongTerm {
			e, _ := idcard.ParseDate(end)
			if !e.After(now) {
				t.Fatalf("card expired: %+v", id)
			}
		}
		ethnic[id.Ethnicity]++
		if strings.ContainsRune(id.Name, idcard.MiddleDot) {
			dotted++
		}
	}
	if han := ethnic["汉"]; han < 1700 || han > 1930 {
		t.Errorf("Han share %d/2000, want about 91%%", han)
	}
	if len(ethnic) < 8 {
		t.Errorf("only %d ethnicities: %v", len(ethnic), ethnic)
	}
	if dotted == 0 {
		t.Error("no transcribed (dotted) name in 2000 identities")
	}
}

func TestSeedReproduces(t *testing.T) {
	a := GenerateAt(rand.New(rand.NewPCG(7, 7)), now)
	b := GenerateAt(rand.New(rand.NewPCG(7, 7)), now)
	c := GenerateAt(rand.New(rand.NewPCG(8, 7)), now)
	if a != b {
		t.Errorf("same seed, different identities:\n%+v\n%+v", a, b)
	}
	if a == c {
		t.Error("different seeds, same identity")
	}
	if Generate(rand.New(rand.NewPCG(1, 1))).IDCard == "" {
		t.Error("Generate returned no number")
	}
}

func TestCardData(t *testing.T) {
	id := GenerateAt(rand.New(rand.NewPCG(3, 3)), now)
	c := CardData(rand.New(rand.NewPCG(3, 3)), now)
	if c.Name != id.Name || c.IDCard != id.IDCard || c.BirthDate != id.Birth.Format("20060102") || c.ValidityEnd != id.ValidityEnd {
		t.Errorf("card %+v vs identity %+v", c, id)
	}
	if (c.GenderCode == "1") != (id.Gender == idcard.Male) || (c.Gender == "男") != (c.GenderCode == "1") {
		t.Errorf("gender %s/%s for %v", c.Gender, c.GenderCode, id.Gender)
	}
}

func TestAuthority(t *testing.T) {
	cases := map[string]string{
		"110101": "北京市公安局东城分局",
		"310115": "上海市公安局浦东分局",
		"330106": "杭州市公安局西湖分局",
		"653101": "喀什市公安局",
		"440304": "深圳市公安局福田分局",
		"130000": "河北省公安局",
	}
	for div, want := range cases {
		if got := Authority(div); got != want {
			t.Errorf("Authority(%s) = %s, want %s", div, got, want)
		}
	}
	for _, div := range idcard.Counties {
		if a := Authority(div); !strings.Contains(a, "公安局") || strings.Contains(a, "省公安局") && !strings.HasSuffix(a, "省公安局") {
			t.Errorf("Authority(%s) = %s", div, a)
		}
	}
}
