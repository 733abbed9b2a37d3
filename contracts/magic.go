package contracts

// Magic identities: valid ID numbers that always produce one outcome from
// the simulator, as payment sandboxes do with test cards. They share the
// division 110101 and the birth date 1911-11-11; the sequence number picks
// the outcome. Any valid name may go with them. Invalid check characters and
// names need no magic: the real validation answers "-2" and "-3".
type MagicIdentity struct {
	IDCard  string
	Name    string
	Outcome string // human-readable, for the README table
	// Exactly one of these describes what the simulator does.
	Result ResultCode // a 200 answer with this result
	Status int        // an HTTP error with this status
	Fault  string     // a network fault
	Sim    float64    // with Result 0: a face similarity to report
}

// MagicIdentities is the table the README documents. The numbers carry
// valid check characters (see TestMagicIdentitiesAreValid).
var MagicIdentities = []MagicIdentity{
	{IDCard: "110101191111110010", Name: "测试一致", Outcome: "result 0, consistent", Result: ResultConsistent},
	{IDCard: "110101191111110029", Name: "测试不一致", Outcome: "result -1, inconsistent (billed)", Result: ResultInconsistent},
	{IDCard: "110101191111110045", Name: "测试库异常", Outcome: "result -4, database exception", Result: ResultDBError},
	{IDCard: "110101191111110053", Name: "测试无记录", Outcome: "result -5, no record", Result: ResultNoRecord},
	{IDCard: "110101191111110061", Name: "测试升级", Outcome: "result -6, system upgrading", Result: ResultUpgrading},
	{IDCard: "11010119111111007X", Name: "测试超限", Outcome: "result -7, daily limit exceeded", Result: ResultDailyLimit},
	{IDCard: "110101191111110109", Name: "测试人脸低分", Outcome: "result 0 with sim 42.5 when image_url is sent (face below threshold)", Result: ResultConsistent, Sim: 42.5},
	{IDCard: "11010119111111429X", Name: "测试限流", Outcome: "HTTP 429 too_many_requests", Status: 429},
	{IDCard: "110101191111115006", Name: "测试服务错误", Outcome: "HTTP 500 api_error", Status: 500},
	{IDCard: "110101191111119015", Name: "测试连接重置", Outcome: "fault connection_reset", Fault: "connection_reset"},
	{IDCard: "110101191111119023", Name: "测试空响应", Outcome: "fault empty_response", Fault: "empty_response"},
}

var magicIndex = func() map[string]MagicIdentity {
	m := make(map[string]MagicIdentity, len(MagicIdentities))
	for _, id := range MagicIdentities {
		m[id.IDCard] = id
	}
	return m
}()

// LookupMagic finds the magic identity with this ID number. It runs on
// every simulator request, hence the index.
func LookupMagic(idCard string) (MagicIdentity, bool) {
	m, ok := magicIndex[idCard]
	return m, ok
}
