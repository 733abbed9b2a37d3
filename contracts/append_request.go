package contracts

// AppendCheckRequest appends the JSON body of r, as a client of CheckPath
// sends it, without reflection (a gateway that received the request in
// another dialect forwards it in this one).
func AppendCheckRequest(dst []byte, r *CheckRequest) []byte {
	dst = append(dst, `{"name":`...)
	dst = AppendJSONString(dst, r.Name)
	dst = append(dst, `,"id_card":`...)
	dst = AppendJSONString(dst, r.IDCard)
	for _, f := range [...]struct{ name, v string }{
		{`,"image_url":`, r.ImageURL}, {`,"validity_begin":`, r.ValidityBegin}, {`,"validity_end":`, r.ValidityEnd},
	} {
		if f.v != "" {
			dst = append(dst, f.name...)
			dst = AppendJSONString(dst, f.v)
		}
	}
	if e := r.Encryption; e != nil {
		dst = appendEncryption(dst, e.EncryptList, e.Algorithm, e.TagList, &e.CiphertextBlob, &e.IV)
	}
	return append(dst, '}')
}

// appendEncryption appends the member `,"encryption":{…}` of a request
// (with its blob and IV) or of an answer (blob and iv nil: the client
// holds them).
func appendEncryption(dst []byte, list []string, algorithm string, tags []string, blob, iv *string) []byte {
	dst = append(dst, `,"encryption":{"encrypt_list":`...)
	dst = appendJSONStrings(dst, list)
	if blob != nil {
		dst = append(dst, `,"ciphertext_blob":`...)
		dst = AppendJSONString(dst, *blob)
		dst = append(dst, `,"iv":`...)
		dst = AppendJSONString(dst, *iv)
	}
	dst = append(dst, `,"algorithm":`...)
	dst = AppendJSONString(dst, algorithm)
	if len(tags) > 0 {
		dst = append(dst, `,"tag_list":`...)
		dst = appendJSONStrings(dst, tags)
	}
	return append(dst, '}')
}
