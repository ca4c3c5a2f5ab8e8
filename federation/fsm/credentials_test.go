package fsm

import (
	"bytes"
	"errors"
	"testing"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// TestCredentials: credential ops apply in order on every member alike; a
// command naming an unknown bucket changes nothing; the credentials are in
// no chain (no origin's head moves).
func TestCredentials(t *testing.T) {
	f := openFSM(t)
	op := func(bucket, key, value string, del bool) *clusterv1.CredentialOp {
		return &clusterv1.CredentialOp{Bucket: bucket, Key: []byte(key), Value: []byte(value), Delete: del}
	}
	steps := []struct {
		ops     []*clusterv1.CredentialOp
		wantErr bool
		want    map[string]string // "bucket/key" → value ("" = absent)
	}{
		{ops: []*clusterv1.CredentialOp{op("passwords", "admin", "h1", false), op("tokens", "t1", "admin", false), op("tokens", "t2", "li", false)},
			want: map[string]string{"passwords/admin": "h1", "tokens/t1": "admin", "tokens/t2": "li"}},
		{ops: []*clusterv1.CredentialOp{op("tokens", "t1", "", true), op("passwords", "admin", "h2", false)},
			want: map[string]string{"passwords/admin": "h2", "tokens/t1": "", "tokens/t2": "li"}},
		{ops: []*clusterv1.CredentialOp{op("tokens", "t2", "", true), op("chains", "x", "y", false)}, wantErr: true,
			want: map[string]string{"tokens/t2": "li"}},
		{ops: []*clusterv1.CredentialOp{op("tokens", "", "v", false)}, wantErr: true, want: map[string]string{"tokens/t2": "li"}},
	}
	for i, st := range steps {
		res := f.Apply(cmdLog(t, uint64(i+1), clusterv1.CommandType_COMMAND_TYPE_CREDENTIALS, false, &clusterv1.Credentials{Ops: st.ops}))
		err, _ := res.(error)
		if (err != nil) != st.wantErr || (err != nil && !errors.Is(err, ErrBadCommand)) {
			t.Errorf("step %d: result %v, want error %t (ErrBadCommand)", i, res, st.wantErr)
		}
		for k, want := range st.want {
			b, key, _ := bytes.Cut([]byte(k), []byte("/"))
			got, err := f.Credential(string(b), key)
			if err != nil || string(got) != want {
				t.Errorf("step %d: %s = %q %v, want %q", i, k, got, err, want)
			}
		}
	}
	if hs := f.Heads(); len(hs) != 0 {
		t.Errorf("credentials moved chain heads: %v", hs)
	}
	n := 0
	f.EachCredential("tokens", func(k, v []byte) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d tokens, want 1", n)
	}
}
