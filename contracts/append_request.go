package contracts

// AppendCheckRequest appends the JSON body of r, as a client of CheckPath
// sends it, without reflection (a gateway that received the request in
// another dialect forwards it in this one).
func AppendCheckRequest(dst []byte, r *CheckRequest) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, r.Name)
	dst = append(dst, `,"id_card":`...)
	dst = appendJSONString(dst, r.IDCard)
	for _, f := range [...]struct{ name, v string }{
		{`,"image_url":`, r.ImageURL}, {`,"validity_begin":`, r.ValidityBegin}, {`,"validity_end":`, r.ValidityEnd},
	} {
		if f.v != "" {
			dst = append(dst, f.name...)
			dst = appendJSONString(dst, f.v)
		}
	}
	if e := r.Encryption; e != nil {
		dst = append(dst, `,"encryption":{"encrypt_list":`...)
		dst = appendJSONStrings(dst, e.EncryptList)
		dst = append(dst, `,"ciphertext_blob":`...)
		dst = appendJSONString(dst, e.CiphertextBlob)
		dst = append(dst, `,"iv":`...)
		dst = appendJSONString(dst, e.IV)
		dst = append(dst, `,"algorithm":`...)
		dst = appendJSONString(dst, e.Algorithm)
		if len(e.TagList) > 0 {
			dst = append(dst, `,"tag_list":`...)
			dst = appendJSONStrings(dst, e.TagList)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
