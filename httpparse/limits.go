package httpparse

// Limits bound what one request may make the parser read and keep. The
// names and defaults follow Gunicorn's command-line flags.
type Limits struct {
	// RequestLine bounds the request line, CRLF excluded
	// (--limit-request-line). Exceeding it is a 414. 0 means unlimited.
	RequestLine int
	// Fields bounds the number of header fields (--limit-request-fields).
	// Exceeding it is a 431. 0 or less means Gunicorn's ceiling, 32768.
	Fields int
	// FieldSize bounds one header (or trailer) field line, its CRLF
	// included, as Gunicorn counts it (--limit-request-field_size): with
	// 8190, a line of 8188 bytes plus CRLF is the longest accepted.
	// Exceeding it is a 431. 0 or less means the default, 8190, as in
	// Gunicorn main: there is no unlimited setting.
	FieldSize int
	// Body bounds the request body in bytes (--limit-request-body).
	// Exceeding it is a 413. 0 means unlimited.
	Body int64
	// TrailerBytes bounds the trailer section of a chunked body, CRLFs
	// included. Exceeding it is a 431. 0 means only the header section bound
	// applies. Each trailer line is also bounded by FieldSize.
	TrailerBytes int
}

// DefaultLimits are Gunicorn's defaults, plus a trailer bound of one default
// header field.
var DefaultLimits = Limits{
	RequestLine:  4094,
	Fields:       100,
	FieldSize:    8190,
	Body:         0,
	TrailerBytes: 8190,
}

const (
	// maxFieldsCeiling is Gunicorn's MAX_HEADERS: the field count used when
	// Limits.Fields is 0 or out of range.
	maxFieldsCeiling = 32768
	// defaultFieldSize is Gunicorn's DEFAULT_MAX_HEADERFIELD_SIZE: the
	// field line bound when Limits.FieldSize is 0 or negative.
	defaultFieldSize = 8190
	// maxLeadingEmptyLines bounds the CRLFs skipped before a request line
	// (RFC 9112 §2.2 asks to ignore at least one).
	maxLeadingEmptyLines = 8
	// maxChunkLineLength bounds a chunk-size line with its extensions.
	maxChunkLineLength = 4096
)

// limits is Limits resolved once per Reader: zero values replaced by the
// bounds they stand for.
type limits struct {
	requestLine  int   // -1 = unlimited
	fields       int   // > 0
	fieldSize    int   // > 0: bytes of one field line, CRLF included
	headSection  int   // > 0: total bytes of the header field lines, CRLFs included
	body         int64 // 0 = unlimited
	trailerBytes int   // > 0
}

// resolve mirrors Gunicorn's Message.__init__: a header section may hold at
// most fields*(fieldSize+2)+4 bytes.
func (l Limits) resolve() limits {
	r := limits{requestLine: l.RequestLine, fields: l.Fields, fieldSize: l.FieldSize, body: l.Body}
	if r.requestLine <= 0 {
		r.requestLine = -1
	}
	if r.fields <= 0 || r.fields > maxFieldsCeiling {
		r.fields = maxFieldsCeiling
	}
	if r.fieldSize <= 0 {
		r.fieldSize = defaultFieldSize
	}
	r.headSection = r.fields*(r.fieldSize+2) + 4
	if r.body < 0 {
		r.body = 0
	}
	r.trailerBytes = l.TrailerBytes
	if r.trailerBytes <= 0 || r.trailerBytes > r.headSection {
		r.trailerBytes = r.headSection
	}
	return r
}
