package load

import (
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var given = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国文斌宇浩凯健俊帆帅旭宁龙林欣怡梓涵子轩雨")

// Bodies generates n valid check requests with distinct identities from a
// seed: the project's own ID generator, so every request passes local
// validation and reaches the upstream.
func Bodies(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]byte, n)
	for i := range out {
		out[i], _ = json.Marshal(RandomRequest(r))
	}
	return out
}

// RandomRequest draws one plausible, valid identity.
func RandomRequest(r *rand.Rand) contracts.CheckRequest {
	div := idcard.Counties[r.IntN(len(idcard.Counties))]
	birth := time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	g := idcard.Gender(r.IntN(2))
	id, err := idcard.Generate(div, birth, g, r.IntN(1000))
	if err != nil {
		panic(err) // the table only holds valid divisions
	}
	name := []rune{surnames[r.IntN(len(surnames))], given[r.IntN(len(given))]}
	if r.IntN(2) == 0 {
		name = append(name, given[r.IntN(len(given))])
	}
	return contracts.CheckRequest{Name: string(name), IDCard: id}
}
