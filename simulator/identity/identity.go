// Package identity invents plausible resident identities: Chinese names
// (with the middle dot for transcribed Uyghur names), an ethnicity drawn
// with realistic weights, an address and issuing police bureau that match
// the ID number's division, a valid GB 11643 number and a validity period
// consistent with the holder's age at issue. Everything comes from the
// caller's PRNG, so a seed (and a fixed "now") reproduces it.
package identity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

// Identity is one invented card holder, as the card's chip would hold it.
type Identity struct {
	Name          string
	Gender        idcard.Gender
	Ethnicity     string // e.g. 汉, 维吾尔
	EthnicityCode string // GB/T 3304, two digits
	Birth         time.Time
	Address       string
	IDCard        string
	// IssuingAuthority is the police bureau that issued the card.
	IssuingAuthority string
	ValidityBegin    string // YYYYMMDD
	ValidityEnd      string // YYYYMMDD, or 00000000 for long-term
}

// Generate invents an identity whose card is valid today.
func Generate(r *rand.Rand) Identity { return GenerateAt(r, time.Now()) }

// GenerateAt invents an identity whose card is valid on now. Equal PRNG
// state and equal now give an equal identity.
func GenerateAt(r *rand.Rand, now time.Time) Identity {
	f := gofakeit.NewFaker(r, false)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)

	eth := pickEthnicity(f)
	div := divisionFor(f, eth)
	gender := idcard.Female
	if f.Bool() {
		gender = idcard.Male
	}
	// Holders from 16 (first card) to 85.
	birth := f.DateRange(today.AddDate(-85, 0, 0), today.AddDate(-16, 0, -1))
	birth = time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC)
	id, err := idcard.Generate(div, birth, gender, f.Number(1, 998))
	if err != nil {
		// divisions come from idcard.Counties, dates are in range: a
		// failure here is a programming error, not bad input.
		panic(fmt.Sprintf("identity: %v", err))
	}
	begin, end := validity(f, birth, today)
	region := idcard.RegionName(div)
	return Identity{
		Name:             name(f, eth, gender),
		Gender:           gender,
		Ethnicity:        eth.name,
		EthnicityCode:    eth.code,
		Birth:            birth,
		Address:          region + address(f),
		IDCard:           id,
		IssuingAuthority: Authority(div),
		ValidityBegin:    begin,
		ValidityEnd:      end,
	}
}

// CardData generates an identity in the shape verification sessions carry
// (the session simulator's IdentityGenerator).
func CardData(r *rand.Rand, now time.Time) contracts.CardData {
	return GenerateAt(r, now).CardData()
}

// CardData is the identity as the session contract carries it.
func (id Identity) CardData() contracts.CardData {
	gender, code := "女", "2"
	if id.Gender == idcard.Male {
		gender, code = "男", "1"
	}
	return contracts.CardData{
		Name:             id.Name,
		Gender:           gender,
		GenderCode:       code,
		Ethnicity:        id.Ethnicity,
		EthnicityCode:    id.EthnicityCode,
		BirthDate:        id.Birth.Format("20060102"),
		Address:          id.Address,
		IDCard:           id.IDCard,
		IssuingAuthority: id.IssuingAuthority,
		ValidityBegin:    id.ValidityBegin,
		ValidityEnd:      id.ValidityEnd,
	}
}

// CheckRequest is the identity as a check-2e request.
func (id Identity) CheckRequest() contracts.CheckRequest {
	return contracts.CheckRequest{Name: id.Name, IDCard: id.IDCard, ValidityBegin: id.ValidityBegin, ValidityEnd: id.ValidityEnd}
}

type ethnicity struct {
	code, name string
	weight     float32 // share of the population, percent (2020 census, rounded)
}

var ethnicities = []ethnicity{
	{"01", "汉", 91.1}, {"08", "壮", 1.4}, {"05", "维吾尔", 0.8}, {"03", "回", 0.8}, {"06", "苗", 0.8},
	{"11", "满", 0.7}, {"07", "彝", 0.7}, {"15", "土家", 0.7}, {"04", "藏", 0.5}, {"02", "蒙古", 0.5},
	{"09", "布依", 0.3}, {"12", "侗", 0.2}, {"13", "瑶", 0.2}, {"14", "白", 0.15}, {"10", "朝鲜", 0.15},
}

var ethnicityOptions, ethnicityWeights = func() ([]any, []float32) {
	opts, ws := make([]any, len(ethnicities)), make([]float32, len(ethnicities))
	for i, e := range ethnicities {
		opts[i], ws[i] = i, e.weight
	}
	return opts, ws
}()

func pickEthnicity(f *gofakeit.Faker) ethnicity {
	v, err := f.Weighted(ethnicityOptions, ethnicityWeights)
	if err != nil {
		return ethnicities[0]
	}
	return ethnicities[v.(int)]
}

// Regions where an ethnicity's transcribed names are at home; others draw
// from every county.
var homeDivisions = map[string][]string{
	"维吾尔": {"650102", "653101"},
	"藏":   {"540102", "630102"},
	"蒙古":  {"150102"},
	"壮":   {"450102"},
	"回":   {"640104", "620102"},
	"朝鲜":  {"220102"},
}

func divisionFor(f *gofakeit.Faker, e ethnicity) string {
	if home := homeDivisions[e.name]; len(home) > 0 && f.Number(1, 10) <= 8 {
		return f.RandomString(home)
	}
	return f.RandomString(idcard.Counties)
}

var (
	// The most common single surnames, roughly by frequency, and a few
	// compound ones.
	surnames    = strings.Fields("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 高 罗 郑 梁 谢 宋 唐 许 韩 邓 冯 曹 彭 曾 肖 田 董 潘 袁 蔡 蒋 余 于 杜 叶 程 魏 苏 吕 丁 任 卢 姚 沈 钟 姜 崔 谭 陆 范 汪 廖 石 金 韦 贾 夏 付 方 邹 熊 白 孟 秦 邱 侯 江 尹 薛 闫 段 雷 龙 黎 史 陶 贺 毛 郝 顾 龚 邵 万 覃 武 钱 戴 严 欧阳 司马 上官 诸葛")
	givenMale   = []rune("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳东亮成建志国文博思远晨泽睿轩然嘉豪铭")
	givenFemale = []rune("芳娜敏静丽艳娟霞秀玲桂英华燕萍红梅琳雪婷慧莹颖倩洁琴云欣怡涵萱梓诗雨佳悦晶瑶蕾薇彤妍馨")
	// Transcribed Uyghur given names; the full name joins two with U+00B7.
	uyghurMale   = strings.Fields("买买提 艾力 阿不都 吐尔逊 艾合买提 努尔 热合曼 伊力哈木 阿迪力 库尔班 司马义 木拉提")
	uyghurFemale = strings.Fields("古丽 阿依古丽 热依拉 迪丽拜尔 帕提古丽 努尔古丽 米热古丽 阿依努尔 再努尔 布合力其")
	// Tibetan names are two two-character parts, no surname.
	tibetan = strings.Fields("扎西 卓玛 次仁 德吉 多吉 央金 旦增 拉姆 格桑 平措 尼玛 曲珍")
)

func name(f *gofakeit.Faker, e ethnicity, g idcard.Gender) string {
	switch e.name {
	case "维吾尔":
		given := uyghurFemale
		if g == idcard.Male {
			given = uyghurMale
		}
		return f.RandomString(given) + string(idcard.MiddleDot) + f.RandomString(uyghurMale)
	case "藏":
		return f.RandomString(tibetan) + f.RandomString(tibetan)
	}
	given := givenFemale
	if g == idcard.Male {
		given = givenMale
	}
	var b strings.Builder
	b.WriteString(f.RandomString(surnames))
	b.WriteRune(given[f.Number(0, len(given)-1)])
	// Two given characters two times in three.
	if f.Number(1, 3) > 1 {
		b.WriteRune(given[f.Number(0, len(given)-1)])
	}
	return b.String()
}

var (
	streets   = strings.Fields("建国路 人民路 解放路 中山路 和平街 长安街 新华路 学院路 胜利路 光明街 文化路 友谊路 青年路 滨江路 东风路 朝阳路 育才路 迎宾大道")
	compounds = strings.Fields("幸福小区 阳光花园 锦绣家园 翠苑 金色家园 名都花园 丽景苑 和平里 春晖园 龙湖小区")
)

// address is the part after the region: a street number, or a compound
// with building, unit and flat, as cards print it.
func address(f *gofakeit.Faker) string {
	street := f.RandomString(streets)
	if f.Number(1, 3) == 1 {
		return fmt.Sprintf("%s%d号", street, f.Number(1, 399))
	}
	return fmt.Sprintf("%s%d号%s%d栋%d单元%d室", street, f.Number(1, 399), f.RandomString(compounds),
		f.Number(1, 30), f.Number(1, 6), f.Number(1, 28)*100+f.Number(1, 4))
}

// validity is the card valid on today: the first card at 16 (or later),
// renewed on each expiry.
func validity(f *gofakeit.Faker, birth, today time.Time) (string, string) {
	// First issue between 16 and 18.
	begin := birth.AddDate(16, 0, f.Number(0, 730))
	if begin.After(today) {
		begin = today
	}
	for {
		end := idcard.ExpiryFor(birth, begin)
		if end == idcard.LongTerm {
			return begin.Format("20060102"), end
		}
		e, _ := idcard.ParseDate(end)
		if e.After(today) {
			return begin.Format("20060102"), end
		}
		// Renewed on the expiry date, or a few weeks late.
		next := e.AddDate(0, 0, f.Number(0, 60))
		if next.After(today) {
			next = today
		}
		begin = next
	}
}

// municipalities are provinces that are cities: their districts' bureaus
// are branches of the city bureau.
var municipalities = map[string]bool{"11": true, "12": true, "31": true, "50": true}

// Authority names the police bureau that issues cards in a division, in
// the form cards print: 北京市公安局东城分局, 杭州市公安局西湖分局,
// 喀什市公安局.
func Authority(div string) string {
	full := idcard.RegionName(div)
	if len(div) < 2 {
		return full + "公安局"
	}
	prov := idcard.RegionName(div[:2] + "0000")
	rest := strings.TrimPrefix(full, prov)
	city, district := prov, rest
	if !municipalities[div[:2]] {
		city, district = "", rest
		for _, mark := range []string{"地区", "市", "自治州", "盟"} {
			if i := strings.Index(rest, mark); i >= 0 {
				city, district = rest[:i+len(mark)], rest[i+len(mark):]
				break
			}
		}
		if city == "" {
			return full + "公安局"
		}
	}
	switch {
	case district == "":
		return city + "公安局"
	case strings.HasSuffix(district, "新区"):
		return city + "公安局" + strings.TrimSuffix(district, "新区") + "分局"
	case strings.HasSuffix(district, "区"):
		return city + "公安局" + strings.TrimSuffix(district, "区") + "分局"
	}
	// County-level cities and counties have their own bureau.
	return district + "公安局"
}
