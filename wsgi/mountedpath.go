package wsgi

// AppendMountedPath appends to dst the ASGI path of a request that
// came without its mount point, and reports whether rawPath did: root
// (--root-path, SCRIPT_NAME) followed by rawPath percent-decoded. A
// proxy in front that strips the mount point (what --root-path is for,
// as Uvicorn documents it) sends "/items" for "/api/items", and the
// ASGI spec's path includes root_path, as Uvicorn 0.26 and later build
// it. A path already under root is left as it came (Uvicorn would put
// root in front once more); so is every path when root is "", and the
// asterisk of "OPTIONS *", which names no resource.
//
//	root "/api", "/items"     → "/api/items", true
//	root "/api", "/api/items" → false
//	root "/api", "/apis"      → "/api/apis", true
func AppendMountedPath(dst, rawPath []byte, root string) ([]byte, bool) {
	if root == "" || len(rawPath) == 0 || rawPath[0] != '/' {
		return dst, false
	}
	n := len(dst)
	dst = AppendUnescapedPath(append(dst, root...), rawPath)
	if hasPathPrefix(dst[n+len(root):], root) {
		return dst[:n], false
	}
	return dst, true
}
