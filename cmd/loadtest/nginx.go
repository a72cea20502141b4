package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// nginx is Debian's nginx as a lender would put it in front of Cashcat:
// a caching reverse proxy (proxy_cache, proxy_cache_lock on, so that
// concurrent first requests for one token make one upstream call), one
// worker pinned to the server's core, the access log buffered.
type nginx struct {
	url string
	cmd *exec.Cmd
	dir string
}

const nginxConf = `
worker_processes 1;
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log %[1]s/access.log combined buffer=64k flush=1s;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	proxy_cache_path %[1]s/cache keys_zone=leads:10m;
	upstream cashcat { server %[2]s; keepalive 16; }
	server {
		listen 127.0.0.1:%[3]d;
		location / {
			proxy_pass http://cashcat;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache leads;
			proxy_cache_valid 200 1h;
			proxy_cache_lock on;
		}
	}
}
`

// startNginx starts nginx in front of the Cashcat at cashcatURL, or says
// why it cannot.
func startNginx(cashcatURL string) (*nginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/nginx"); e != nil {
			return nil, fmt.Errorf("not measured: nginx is not installed (apt-get install -y nginx-light)")
		}
		bin = "/usr/sbin/nginx"
	}
	dir, err := os.MkdirTemp("", "leadgate-nginx")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	upstream := strings.TrimPrefix(cashcatURL, "http://")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, upstream, port), 0o644); err != nil {
		return nil, err
	}
	args := []string{bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		args = append([]string{ts, "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nginx{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, dir: dir}
	for range 100 {
		if resp, err := http.Get(n.url + "/api/v1/actions/action/loadtest00000001"); err == nil {
			resp.Body.Close()
			return n, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	n.stop()
	return nil, fmt.Errorf("nginx did not start: %s", log)
}

func (n *nginx) stop() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
	os.RemoveAll(n.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
