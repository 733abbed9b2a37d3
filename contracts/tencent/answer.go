package tencent

// CheckResult is the Response of IdCardVerification and CheckIdNameDate:
// FaceID's members only. An encrypted request's answer is the same; the
// aggregator's sealed echo (contracts.CheckResponse's name, id_card and
// encryption) has no FaceID equivalent.
type CheckResult struct {
	Result      string `json:"Result"`
	Description string `json:"Description"`
}
