package session

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/simulator/identity"
)

// IdentityGenerator draws a plausible card holder whose card is valid on
// now, from r only (so a seed reproduces it). The default is the simulator
// core's generator, identity.CardData.
type IdentityGenerator func(r *rand.Rand, now time.Time) contracts.CardData

// ethnicities are GB/T 3304 codes for holders given at creation (whose name
// and number are fixed); Han is drawn about nine times in ten.
var ethnicities = []struct{ code, name string }{
	{"01", "汉"}, {"02", "蒙古"}, {"03", "回"}, {"04", "藏"}, {"05", "维吾尔"}, {"06", "苗"},
	{"07", "彝"}, {"08", "壮"}, {"09", "布依"}, {"10", "朝鲜"}, {"11", "满"}, {"12", "侗"},
	{"13", "瑶"}, {"14", "白"}, {"15", "土家"},
}

var streets = []string{"建国路", "人民路", "解放路", "中山路", "和平街", "长安街", "新华路", "学院路", "胜利路", "光明街"}

// completeCard fills in everything the chip holds for a known name and ID
// number: the rest is drawn from r, consistent with the number.
func completeCard(r *rand.Rand, now time.Time, name, id string) contracts.CardData {
	num, err := idcard.ParseAt(id, now)
	if err != nil {
		// Callers validated id; keep going with what can be derived.
		num = idcard.Number{Raw: id, Birth: now.AddDate(-30, 0, 0), Division: "110101"}
	}
	eth := ethnicities[0]
	if r.IntN(10) == 0 {
		eth = ethnicities[1+r.IntN(len(ethnicities)-1)]
	}
	gender, gcode := "女", "2"
	if num.Gender() == idcard.Male {
		gender, gcode = "男", "1"
	}
	region := idcard.RegionName(num.Division)
	if region == "" {
		region = "北京市东城区"
	}
	// Issued between one month and five years ago, never before the holder
	// turned 16 (younger holders get a card from the age of 16 here).
	begin := now.AddDate(0, -1-r.IntN(59), -r.IntN(28))
	if min := num.Birth.AddDate(16, 0, 0); begin.Before(min) {
		begin = min
	}
	begin = time.Date(begin.Year(), begin.Month(), begin.Day(), 0, 0, 0, 0, time.UTC)
	return contracts.CardData{
		Name:             name,
		Gender:           gender,
		GenderCode:       gcode,
		Ethnicity:        eth.name,
		EthnicityCode:    eth.code,
		BirthDate:        num.Birth.Format("20060102"),
		Address:          region + streets[r.IntN(len(streets))] + itoa(1+r.IntN(300)) + "号",
		IDCard:           id,
		IssuingAuthority: identity.Authority(num.Division),
		ValidityBegin:    begin.Format("20060102"),
		ValidityEnd:      idcard.ExpiryFor(num.Birth, begin),
	}
}

// expireCard rewrites the validity period to one that ended before now,
// keeping it consistent with the holder's age at issue.
func expireCard(c *contracts.CardData, now time.Time) {
	birth, ok := idcard.ParseDate(c.BirthDate)
	if !ok {
		birth = now.AddDate(-40, 0, 0)
	}
	for _, age := range []int{26, 16, 5} {
		begin := birth.AddDate(age, 0, 0)
		end := idcard.ExpiryFor(birth, begin)
		if e, ok := idcard.ParseDate(end); ok && e.Before(now) {
			c.ValidityBegin, c.ValidityEnd = begin.Format("20060102"), end
			return
		}
	}
	// A holder under ten: a card issued at birth ended five years later.
	c.ValidityBegin = birth.Format("20060102")
	c.ValidityEnd = birth.AddDate(5, 0, 0).Format("20060102")
}

// cardExpired reports whether the card's validity ended before now.
func cardExpired(c *contracts.CardData, now time.Time) bool {
	if c.ValidityEnd == contracts.LongTerm {
		return false
	}
	e, ok := idcard.ParseDate(c.ValidityEnd)
	return ok && e.AddDate(0, 0, 1).Before(now)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// placeholderPhoto is a 102×126 portrait silhouette, the chip photo's size:
// phones cannot decode the WLT original and the simulator has no faces.
var placeholderPhoto = func() []byte {
	const w, h = 102, 126
	img := image.NewGray(image.Rect(0, 0, w, h))
	bg, fg := color.Gray{Y: 0xe8}, color.Gray{Y: 0x9a}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := bg
			dx, dy := x-w/2, y-48
			if dx*dx+dy*dy <= 22*22 { // head
				c = fg
			}
			sx, sy := x-w/2, y-126
			if sx*sx*9/16+sy*sy <= 48*48 && y > 76 { // shoulders
				c = fg
			}
			img.SetGray(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("session: placeholder photo: " + err.Error())
	}
	return b.Bytes()
}()
