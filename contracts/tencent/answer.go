package tencent

// CheckResult is the Response of IdCardVerification and CheckIdNameDate
// as the simulator sends it. Name, IdCard and Encryption are set only in
// answers to encrypted requests, like the aggregator's name, id_card and
// encryption (contracts.CheckResponse): the fields the client encrypted,
// echoed encrypted with the request's own data key and IV, and an
// Encryption object naming them (EncryptList in FaceID's names), the
// algorithm and the GCM tags, without CiphertextBlob or Iv (the client
// holds both).
type CheckResult struct {
	Result      string      `json:"Result"`
	Description string      `json:"Description"`
	Name        string      `json:"Name,omitempty"`
	IdCard      string      `json:"IdCard,omitempty"`
	Encryption  *Encryption `json:"Encryption,omitempty"`
}
