package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// Environment variables read through the env function before the SDK's
// default chain: a static access key pair (and optional session token).
const (
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
)

const form = "s3://BUCKET?region=REGION[&endpoint=URL][&path_style=true]"

// Config says where objects live. It holds no secret, so it may be logged.
type Config struct {
	// Bucket is the S3 bucket.
	Bucket string
	// Region is the bucket's region, e.g. eu-central-1.
	Region string
	// Endpoint is an S3-compatible service's base URL (MinIO, versitygw,
	// Ceph...) without a trailing slash; empty for AWS itself.
	Endpoint string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET instead of
	// BUCKET.ENDPOINT, as most S3-compatible services need.
	PathStyle bool
}

// ParseURL parses s3://BUCKET?region=R[&endpoint=URL][&path_style=true]. It
// rejects anything else (a path, user info, unknown or repeated parameters,
// an endpoint with a query) with a message that says how to fix the URL.
func ParseURL(u *url.URL) (Config, error) {
	if u == nil {
		return Config{}, errors.New("s3: no storage URL")
	}
	switch {
	case u.Scheme != "s3":
		return Config{}, fmt.Errorf("s3: storage URL scheme is %q, want s3 (%s)", u.Scheme, form)
	case u.User != nil:
		return Config{}, fmt.Errorf("s3: storage URL must not contain credentials; set %s and %s or use the AWS default credential chain", EnvAccessKeyID, EnvSecretAccessKey)
	case u.Opaque != "" || u.Host == "":
		return Config{}, fmt.Errorf("s3: storage URL has no bucket: use %s", form)
	case u.Path != "" && u.Path != "/":
		return Config{}, fmt.Errorf("s3: storage URL %q has a path after the bucket; the URL names a bucket only (use storage.prefix for a folder)", "s3://"+u.Host+u.Path)
	case u.Fragment != "":
		return Config{}, fmt.Errorf("s3: storage URL must not have a #fragment (%s)", form)
	}
	cfg := Config{Bucket: u.Host}
	if err := checkBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("s3: storage URL query: %w (%s)", err, form)
	}
	for name, vs := range q {
		if name != "region" && name != "endpoint" && name != "path_style" {
			return Config{}, fmt.Errorf("s3: storage URL parameter %q is unknown (known: region, endpoint, path_style)", name)
		}
		if len(vs) != 1 {
			return Config{}, fmt.Errorf("s3: storage URL parameter %q is given %d times", name, len(vs))
		}
	}
	if cfg.Region = q.Get("region"); !validRegion(cfg.Region) {
		return Config{}, fmt.Errorf("s3: storage URL needs ?region=REGION (e.g. region=eu-central-1), got %q (%s)", cfg.Region, form)
	}
	switch ps := q.Get("path_style"); ps {
	case "", "false":
	case "true":
		cfg.PathStyle = true
	default:
		return Config{}, fmt.Errorf("s3: path_style=%q: use true or false", ps)
	}
	if cfg.Endpoint, err = parseEndpoint(q.Get("endpoint")); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkBucket applies S3's bucket naming rules: 3-63 lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
func checkBucket(name string) error {
	bad := len(name) < 3 || len(name) > 63 || !alnum(name[0]) || !alnum(name[len(name)-1]) ||
		strings.Contains(name, "..")
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(alnum(c) || c == '-' || c == '.')
	}
	if bad {
		return fmt.Errorf("s3: bucket name %q is invalid: use 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", name)
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if !(alnum(r[i]) || r[i] == '-') {
			return false
		}
	}
	return true
}

// parseEndpoint validates an explicit endpoint. Its value is never echoed
// in errors whole, since a careless one may carry a secret.
func parseEndpoint(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	e, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("s3: endpoint is not a URL: use e.g. endpoint=https://s3.example.com")
	case e.RawQuery != "" || e.User != nil || e.Fragment != "":
		return "", errors.New("s3: endpoint must not carry a query, user info or fragment; credentials come from the environment")
	case e.Scheme != "http" && e.Scheme != "https":
		return "", fmt.Errorf("s3: endpoint scheme %q: use https:// (or http:// for a local test server)", e.Scheme)
	case e.Host == "":
		return "", errors.New("s3: endpoint has no host")
	}
	return strings.TrimRight(e.Scheme+"://"+e.Host+e.EscapedPath(), "/"), nil
}

// newClient builds the SDK client. Credentials: a static key pair from env
// when AWS_ACCESS_KEY_ID is set there, else the SDK's default chain (shared
// config and profiles, web identity, container and instance roles). The
// SDK's own retries are off: Strata's storage retry layer is the one place
// that retries.
func newClient(ctx context.Context, cfg Config, env func(string) string, opts Options) (*s3.Client, error) {
	load := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if id, secret := env(EnvAccessKeyID), env(EnvSecretAccessKey); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, fmt.Errorf("s3: set both %s and %s, or neither (to use the default credential chain)", EnvAccessKeyID, EnvSecretAccessKey)
		}
		load = append(load, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, env(EnvSessionToken))))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration (shared config, profile, credentials): %w", err)
	}
	return s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// The SDK logs every skipped response checksum (ranged and
		// multipart reads); its errors reach Strata as values instead.
		o.Logger = logging.Nop{}
		if opts.Transport != nil {
			o.HTTPClient = &http.Client{Transport: opts.Transport}
		}
		// Checksums are computed by Put itself (SHA-256 per request).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}), nil
}
