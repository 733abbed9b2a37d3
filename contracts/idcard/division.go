package idcard

import "sort"

// Division validation stops at the province: county codes are renumbered
// every year and cards keep the code they were issued under for life (the
// standard's own example 440524… is a Shantou county code retired in the
// 1990s), so rejecting unknown county codes would turn genuine cards into
// "-2". The county table below names regions and seeds generated identities.
var provinces = map[string]string{
	"11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
	"21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
	"31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
	"41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
	"50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
	"61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
	"71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区", "83": "台湾地区",
}

// counties are current county-level divisions (GB/T 2260) with their full
// names, province and prefecture included.
var counties = map[string]string{
	"110101": "北京市东城区", "110102": "北京市西城区", "110105": "北京市朝阳区", "110106": "北京市丰台区",
	"110108": "北京市海淀区", "120101": "天津市和平区", "120104": "天津市南开区",
	"130102": "河北省石家庄市长安区", "140105": "山西省太原市小店区", "150102": "内蒙古自治区呼和浩特市新城区",
	"210102": "辽宁省沈阳市和平区", "220102": "吉林省长春市南关区", "230102": "黑龙江省哈尔滨市道里区",
	"310101": "上海市黄浦区", "310104": "上海市徐汇区", "310115": "上海市浦东新区",
	"320102": "江苏省南京市玄武区", "320505": "江苏省苏州市虎丘区", "330102": "浙江省杭州市上城区",
	"330106": "浙江省杭州市西湖区", "340102": "安徽省合肥市瑶海区", "350102": "福建省福州市鼓楼区",
	"350203": "福建省厦门市思明区", "360102": "江西省南昌市东湖区", "370102": "山东省济南市历下区",
	"370202": "山东省青岛市市南区", "410102": "河南省郑州市中原区", "420102": "湖北省武汉市江岸区",
	"420106": "湖北省武汉市武昌区", "430102": "湖南省长沙市芙蓉区", "440103": "广东省广州市荔湾区",
	"440106": "广东省广州市天河区", "440304": "广东省深圳市福田区", "440305": "广东省深圳市南山区",
	"450102": "广西壮族自治区南宁市兴宁区", "460105": "海南省海口市秀英区", "500103": "重庆市渝中区",
	"510104": "四川省成都市锦江区", "510107": "四川省成都市武侯区", "520102": "贵州省贵阳市南明区",
	"530102": "云南省昆明市五华区", "540102": "西藏自治区拉萨市城关区", "610102": "陕西省西安市新城区",
	"610113": "陕西省西安市雁塔区", "620102": "甘肃省兰州市城关区", "630102": "青海省西宁市城东区",
	"640104": "宁夏回族自治区银川市兴庆区", "650102": "新疆维吾尔自治区乌鲁木齐市天山区",
	"653101": "新疆维吾尔自治区喀什地区喀什市",
	"810000": "香港特别行政区", "820000": "澳门特别行政区", "830000": "台湾地区",
}

// Counties lists the codes of the embedded county table, sorted, without
// the residence-permit prefixes; generators draw from it.
var Counties = func() []string {
	out := make([]string, 0, len(counties))
	for c := range counties {
		if c[:2] != "81" && c[:2] != "82" && c[:2] != "83" {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}()

// RegionName names a division: the full county name when it is in the
// table, else the province, else "".
func RegionName(code string) string {
	if n, ok := counties[code]; ok {
		return n
	}
	if len(code) >= 2 {
		return provinces[code[:2]]
	}
	return ""
}

// ValidDivision reports whether code can start a valid number.
func ValidDivision(code string) bool {
	if len(code) != 6 || !allDigits(code) {
		return false
	}
	_, err := divisionKind(code)
	return err == nil
}
