package azblob

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/stratahq/strata/internal/storage"
)

// Environment variables that carry credentials, in the order they are tried.
const (
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvKey              = "AZURE_STORAGE_KEY"
	EnvSASToken         = "AZURE_STORAGE_SAS_TOKEN"
)

// Config says where objects live. It holds no secret, so it may be logged.
type Config struct {
	// Container is the blob container (for ADLS Gen2: the file system).
	Container string
	// Account is the storage account name.
	Account string
	// Endpoint is the Blob service endpoint without a trailing slash:
	// https://ACCOUNT.blob.core.windows.net by default, or e.g.
	// http://127.0.0.1:10000/devstoreaccount1 for Azurite.
	Endpoint string
}

// ContainerURL is the container's URL (without credentials).
func (c Config) ContainerURL() string { return c.Endpoint + "/" + c.Container }

// ParseURL parses azblob://CONTAINER?account=NAME[&endpoint=URL]. It rejects
// anything else (a path, user info, unknown or repeated parameters, a query
// string in the endpoint) with a message that says how to fix the URL.
func ParseURL(u *url.URL) (Config, error) {
	if u == nil {
		return Config{}, errors.New("azblob: no storage URL")
	}
	const form = "azblob://CONTAINER?account=NAME[&endpoint=URL]"
	switch {
	case u.Scheme != "azblob":
		return Config{}, fmt.Errorf("azblob: storage URL scheme is %q, want azblob (%s)", u.Scheme, form)
	case u.User != nil:
		return Config{}, fmt.Errorf("azblob: storage URL must not contain credentials; set %s, %s or %s instead", EnvConnectionString, EnvKey, EnvSASToken)
	case u.Opaque != "" || u.Host == "":
		return Config{}, fmt.Errorf("azblob: storage URL has no container: use %s", form)
	case u.Path != "" && u.Path != "/":
		return Config{}, fmt.Errorf("azblob: storage URL %q has a path after the container; the URL names a container only (use storage.prefix for a folder)", "azblob://"+u.Host+u.Path)
	case u.Fragment != "":
		return Config{}, fmt.Errorf("azblob: storage URL must not have a #fragment (%s)", form)
	}
	cfg := Config{Container: u.Host}
	if err := checkContainer(cfg.Container); err != nil {
		return Config{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("azblob: storage URL query: %w (%s)", err, form)
	}
	for name, vs := range q {
		if name != "account" && name != "endpoint" {
			return Config{}, fmt.Errorf("azblob: storage URL parameter %q is unknown (known: account, endpoint)", name)
		}
		if len(vs) != 1 {
			return Config{}, fmt.Errorf("azblob: storage URL parameter %q is given %d times", name, len(vs))
		}
	}
	cfg.Account = q.Get("account")
	if err := checkAccount(cfg.Account); err != nil {
		return Config{}, err
	}
	cfg.Endpoint, err = parseEndpoint(q.Get("endpoint"), cfg.Account)
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkContainer applies Azure's container naming rules: 3-63 characters,
// lower-case letters, digits and single hyphens, starting and ending with a
// letter or digit.
func checkContainer(name string) error {
	bad := len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' ||
		strings.Contains(name, "--")
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if bad {
		return fmt.Errorf("azblob: container name %q is invalid: use 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", name)
	}
	return nil
}

func checkAccount(name string) error {
	if name == "" {
		return errors.New("azblob: storage URL has no account: add ?account=NAME (azblob://CONTAINER?account=NAME)")
	}
	bad := len(name) < 3 || len(name) > 24
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	}
	if bad {
		return fmt.Errorf("azblob: account name %q is invalid: use 3-24 lower-case letters and digits", name)
	}
	return nil
}

// parseEndpoint validates an explicit endpoint or builds the default one. The
// value is echoed in errors only when it cannot carry a secret.
func parseEndpoint(raw, account string) (string, error) {
	if raw == "" {
		return "https://" + account + ".blob.core.windows.net", nil
	}
	e, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("azblob: endpoint is not a URL: use e.g. endpoint=https://NAME.blob.core.windows.net")
	case e.RawQuery != "" || e.User != nil || e.Fragment != "":
		return "", fmt.Errorf("azblob: endpoint must not carry a query, user info or fragment; put a SAS token in %s", EnvSASToken)
	case e.Scheme != "http" && e.Scheme != "https":
		return "", fmt.Errorf("azblob: endpoint %q must start with https:// (or http:// for Azurite)", raw)
	case e.Host == "":
		return "", fmt.Errorf("azblob: endpoint %q has no host", raw)
	}
	return strings.TrimRight(e.Scheme+"://"+e.Host+e.EscapedPath(), "/"), nil
}

// newContainerClient builds the SDK client from the first credential found in
// env. The SDK's own retries are off: Strata's storage retry layer is the one
// place that retries.
func newContainerClient(cfg Config, env func(string) string, opts Options) (*container.Client, error) {
	co := &container.ClientOptions{}
	co.Retry = policy.RetryOptions{MaxRetries: -1}
	co.Telemetry = policy.TelemetryOptions{ApplicationID: "strata"}
	if opts.Transport != nil {
		co.Transport = &http.Client{Transport: opts.Transport}
	}
	if cs := env(EnvConnectionString); cs != "" {
		if name := connStringField(cs, "AccountName"); name != "" && name != cfg.Account {
			return nil, fmt.Errorf("azblob: account %q in the storage URL differs from AccountName %q in %s", cfg.Account, name, EnvConnectionString)
		}
		c, err := container.NewClientFromConnectionString(cs, cfg.Container, co)
		if err != nil {
			// The SDK's message may quote the string: never show it.
			return nil, fmt.Errorf("azblob: %s is malformed (want DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;BlobEndpoint=...)", EnvConnectionString)
		}
		return c, nil
	}
	if key := env(EnvKey); key != "" {
		cred, err := container.NewSharedKeyCredential(cfg.Account, key)
		if err != nil {
			return nil, fmt.Errorf("azblob: %s is not a valid base64 account key", EnvKey)
		}
		return checked(container.NewClientWithSharedKeyCredential(cfg.ContainerURL(), cred, co))
	}
	if sas := env(EnvSASToken); sas != "" {
		return checked(container.NewClientWithNoCredential(cfg.ContainerURL()+"?"+strings.TrimPrefix(sas, "?"), co))
	}
	credOpts := &azidentity.DefaultAzureCredentialOptions{}
	if opts.Transport != nil {
		credOpts.ClientOptions = azcore.ClientOptions{Transport: co.Transport}
	}
	cred, err := azidentity.NewDefaultAzureCredential(credOpts)
	if err != nil {
		return nil, fmt.Errorf("azblob: no credentials: set %s, %s or %s, or configure the Azure default credential (managed identity, workload identity, az login): %w",
			EnvConnectionString, EnvKey, EnvSASToken, err)
	}
	return checked(container.NewClient(cfg.ContainerURL(), cred, co))
}

func checked(c *container.Client, err error) (*container.Client, error) {
	if err != nil {
		return nil, fmt.Errorf("azblob: create client: %s", storage.RedactURLs(err.Error()))
	}
	return c, nil
}

// connStringField returns one non-secret field of a connection string.
func connStringField(cs, name string) string {
	for part := range strings.SplitSeq(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
