package gateway

import "testing"

func TestReportedLoad(t *testing.T) {
	tests := []struct {
		name string
		text string
		want int64
		ok   bool
	}{
		{"kiln names", "# HELP x\nkiln_num_requests_running 3\nkiln_num_requests_waiting 2\n", 5, true},
		{"kiln wins over vllm", "vllm:num_requests_running{model_name=\"m\"} 9\nkiln_num_requests_running 1\n", 1, true},
		{"vllm summed over models", "vllm:num_requests_waiting{model_name=\"a\"} 1\nvllm:num_requests_waiting{model_name=\"b\"} 2\nvllm:num_requests_running{model_name=\"a\"} 4\n", 7, true},
		{"label value with braces and spaces", "vllm:num_requests_running{model_name=\"a } \\\" b\"} 6 1700000000\n", 6, true},
		{"timestamp", "kiln_num_requests_waiting 4 1700000000000\n", 4, true},
		{"neither", "go_goroutines 12\n", 0, false},
		{"malformed lines ignored", "kiln_num_requests_running{\nkiln_num_requests_waiting x\nkiln_num_requests_running 2\n", 2, true},
		{"similar names do not count", "kiln_num_requests_running_total 9\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := reportedLoad([]byte(tt.text))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("reportedLoad = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
