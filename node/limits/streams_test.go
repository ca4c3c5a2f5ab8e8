package limits

import (
	"errors"
	"testing"
)

func TestStreamsCaps(t *testing.T) {
	s := NewStreams(3, 2)
	var releases []func()
	take := func(client string) error {
		rel, err := s.Acquire(client)
		if err == nil {
			releases = append(releases, rel)
		}
		return err
	}
	for _, step := range []struct {
		client string
		scope  string // "" = accepted
	}{
		{"a", ""}, {"a", ""}, {"a", "client"}, {"b", ""}, {"c", "node"},
	} {
		err := take(step.client)
		var se *StreamsError
		switch {
		case step.scope == "" && err != nil:
			t.Fatalf("%s refused: %v", step.client, err)
		case step.scope != "" && (!errors.As(err, &se) || se.Scope != step.scope || !errors.Is(err, ErrTooManyStreams) || se.RetryAfter <= 0):
			t.Fatalf("%s: got %v, want a %s refusal", step.client, err, step.scope)
		}
	}
	if s.Open() != 3 {
		t.Fatalf("open %d, want 3", s.Open())
	}
	releases[0]()
	releases[0]() // a second call gives nothing back twice
	if s.Open() != 2 {
		t.Fatalf("open %d after one release, want 2", s.Open())
	}
	if err := take("a"); err != nil {
		t.Fatalf("a slot came back but a is refused: %v", err)
	}
}
