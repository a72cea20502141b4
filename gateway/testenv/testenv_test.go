package testenv

import "testing"

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"", false}, {"false", false}, {"0", false}, {"FALSE", false}, {" 0 ", false},
		{"true", true}, {"1", true}, {"yes", true}, {"TRUE", true}, {"woodpecker", true},
	} {
		t.Setenv("CI", tc.value)
		if got := CI(); got != tc.want {
			t.Errorf("CI=%q: got %v, want %v", tc.value, got, tc.want)
		}
	}
}

func TestRedisAddr(t *testing.T) {
	t.Setenv("LEADGATE_TEST_REDIS", "")
	if got := RedisAddr(); got != DefaultRedis {
		t.Errorf("unset: got %q, want %q", got, DefaultRedis)
	}
	t.Setenv("LEADGATE_TEST_REDIS", "10.0.0.5:6380")
	if got := RedisAddr(); got != "10.0.0.5:6380" {
		t.Errorf("set: got %q, want 10.0.0.5:6380", got)
	}
}
