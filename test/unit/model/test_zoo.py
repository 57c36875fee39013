"""Zoo catalogue and download-model against a local HTTP server serving a generated archive."""

import dataclasses
import hashlib
import io
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
import tiny_models

from instance_segmentation_ros import cli
from instance_segmentation_ros.model import zoo
from instance_segmentation_ros.model.layout import ModelError
from instance_segmentation_ros.model.source import locate_model
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

NAME = 'mask_rcnn_inception_v2_coco_2018_01_28'  # a TF1 zoo name: archive at the URL base root
TF2_NAME = 'mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8'
SCRIPT = Path(sys.executable).with_name('instance-segmentation')


def tar_gz(entries):
    """A .tar.gz in memory from (name, bytes) files and (name, None) folders."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    """A TF1 zoo tarball of a tiny real model, padded to ~0.5 MB so progress has steps."""
    root = tmp_path_factory.mktemp('zoo_archive')
    folder = tiny_models.make_zoo_folder(root / NAME, 'tf1')
    # Incompressible filler standing in for the checkpoint files of a real tarball.
    Path(folder, 'model.ckpt.data-00000-of-00001').write_bytes(
        np.random.default_rng(0).bytes(500_000))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        tar.add(folder, arcname=NAME)
    return buffer.getvalue()


class Server:
    """A threaded HTTP server on 127.0.0.1 with scripted misbehaviour; logs every request."""

    def __init__(self):
        self.files = {}
        self.requests = []
        self.cut_first = 0  # this many responses stop halfway (connection closed)
        self.ignore_range = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append((self.path, self.headers.get('Range')))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                range_header = self.headers.get('Range')
                if range_header and not server.ignore_range:
                    start = int(range_header.removeprefix('bytes=').split('-')[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header('Content-Length', str(len(body)))
                self.send_header('Content-Type', 'application/gzip')
                self.end_headers()
                if server.cut_first > 0:
                    server.cut_first -= 1
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/zoo'
        self.options = ['--url-base', self.url, '--insecure']  # a test server has no TLS
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def serve(self, name, data):
        self.files['/zoo/' + zoo.CATALOGUE[name].archive] = data

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    served = Server()
    yield served
    served.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Point the cache folder at tmp_path through ROS_HOME, as a user would."""
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    monkeypatch.delenv(zoo.URL_BASE_ENV, raising=False)
    return tmp_path / 'ros_home' / 'instance_segmentation_ros' / 'models'


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('instance-segmentation: error: ') and 'Traceback' not in err
    for fragment in fragments:
        assert fragment in lines[0]


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# -- catalogue and cache folder ----------------------------------------------------------------

def test_catalogue_holds_the_zoo_mask_rcnns():
    base = 'https://download.tensorflow.org/models/object_detection'
    expected = {
        'mask_rcnn_inception_v2_coco_2018_01_28': (79, 25.0),
        'mask_rcnn_resnet50_atrous_coco_2018_01_28': (343, 29.0),
        'mask_rcnn_resnet101_atrous_coco_2018_01_28': (470, 33.0),
        'mask_rcnn_inception_resnet_v2_atrous_coco_2018_01_28': (771, 36.0),
        TF2_NAME: (301, 39.0),
    }
    assert {name: (m.speed_ms, m.box_map) for name, m in zoo.CATALOGUE.items()} == expected
    assert zoo.CATALOGUE[NAME].url() == f'{base}/{NAME}.tar.gz'
    assert zoo.CATALOGUE[TF2_NAME].url() == f'{base}/tf2/20200711/{TF2_NAME}.tar.gz'
    assert zoo.CATALOGUE[TF2_NAME].mask_map == 34.6
    assert zoo.CATALOGUE[NAME].url('http://mirror/x/') == f'http://mirror/x/{NAME}.tar.gz'


def test_cache_folder_follows_ros_home_then_xdg_then_home(tmp_path):
    suffix = Path('instance_segmentation_ros', 'models')
    assert zoo.cache_dir({'ROS_HOME': '/r', 'XDG_CACHE_HOME': '/x'}) == Path('/r') / suffix
    assert zoo.cache_dir({'XDG_CACHE_HOME': '/x'}) == Path('/x') / suffix
    assert zoo.cache_dir({}) == Path.home() / '.cache' / suffix


def test_list_models_prints_the_catalogue(cache, capsys):
    status, out, _ = run_cli(capsys, 'list-models')
    assert status == 0
    for name, model in zoo.CATALOGUE.items():
        line = next(line for line in out.splitlines() if line.startswith(name + ' '))
        assert f'{model.speed_ms} ms' in line and f'{model.box_map:.1f}' in line
        assert line.endswith('no')
    assert str(cache) in out


# -- downloading -------------------------------------------------------------------------------

def test_download_model_end_to_end_then_the_name_works_as_model(
        archive, server, cache, tmp_path, capsys, monkeypatch):
    server.serve(NAME, archive)
    env = dict(os.environ, ROS_HOME=str(tmp_path / 'ros_home'))
    result = subprocess.run([str(SCRIPT), 'download-model', NAME, *server.options],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path == (cache / NAME).resolve()
    assert sorted(p.name for p in path.iterdir()) == [
        'frozen_inference_graph.pb', 'model.ckpt.data-00000-of-00001', 'pipeline.config',
        'saved_model']
    progress = [line for line in result.stderr.splitlines() if '%' in line]
    assert progress[0].startswith(f'{NAME}:   0%') and progress[-1].startswith(f'{NAME}: 100%')
    assert len(progress) >= 5
    # No leftovers but the digest recorded for later downloads.
    assert [p.name for p in cache.glob('*.tar.gz*')] == [f'{NAME}.tar.gz.sha256']
    assert not list(cache.glob('.*'))
    assert SegmentationModel(locate_model(path)).format == 'tf1_od_api_frozen_graph'

    # The name now works wherever a model path does.
    assert locate_model(NAME).path == path / 'frozen_inference_graph.pb'
    image, _ = tiny_models.draw_scene(120, 160, seed=1)
    cv2.imwrite(str(tmp_path / 'scene.png'), image[..., ::-1])
    status, out, err = run_cli(capsys, 'image', str(tmp_path / 'scene.png'), '--model', NAME,
                               '--output', str(tmp_path / 'out.png'))
    assert status == 0, err
    assert 'person' in out and 'car' in out and (tmp_path / 'out.png').is_file()
    status, out, _ = run_cli(capsys, 'list-models')
    assert next(line for line in out.splitlines() if line.startswith(NAME)).endswith('yes')

    # A second download finds it and makes no request.
    count = len(server.requests)
    status, out, _ = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0 and Path(out.strip()) == path and len(server.requests) == count


def test_interrupted_transfer_resumes_with_a_range_request(archive, server, cache, capsys):
    server.serve(NAME, archive)
    server.cut_first = 1
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0, err
    assert [r for _, r in server.requests] == [None, f'bytes={len(archive) // 2}-']
    assert 'resuming' in err
    assert locate_model(out.strip()).kind == 'frozen_graph'


def test_transfer_cut_every_time_keeps_the_part_file_for_the_next_run(
        archive, server, cache, capsys):
    server.serve(NAME, archive)
    server.cut_first = zoo.ATTEMPTS
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert_one_line_error(status, err.splitlines()[-1] + '\n', 'interrupted',
                          'run the same command again to resume')
    part = cache / f'{NAME}.tar.gz.part'
    assert 0 < part.stat().st_size < len(archive)
    held = part.stat().st_size
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0, err
    assert server.requests[-1][1] == f'bytes={held}-'
    assert Path(out.strip()) == cache / NAME and not part.exists()


def test_server_that_ignores_range_restarts_cleanly(archive, server, cache, capsys):
    server.serve(NAME, archive)
    server.ignore_range = True
    cache.mkdir(parents=True)
    (cache / f'{NAME}.tar.gz.part').write_bytes(b'stale bytes of another file')
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options,
                               '--sha256', hashlib.sha256(archive).hexdigest())
    assert status == 0, err
    assert 'restarting' in err and server.requests[0][1].startswith('bytes=')
    assert Path(out.strip()) == cache / NAME


def test_catalogue_checksum_is_verified(archive, server, cache, capsys, monkeypatch):
    server.serve(NAME, archive)
    good = dataclasses.replace(zoo.CATALOGUE[NAME], sha256=hashlib.sha256(archive).hexdigest())
    bad = dataclasses.replace(good, sha256='0' * 64)
    monkeypatch.setitem(zoo.CATALOGUE, NAME, bad)
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert_one_line_error(status, err.splitlines()[-1] + '\n', 'checksum mismatch', '0' * 64)
    assert not list(cache.iterdir())  # nothing kept: archive deleted, nothing unpacked

    monkeypatch.setitem(zoo.CATALOGUE, NAME, good)
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0, err
    assert Path(out.strip()) == cache / NAME


@pytest.mark.parametrize('data,message', [
    (b'<html>not found, but with status 200</html>', 'is corrupt'),
    (tar_gz([(f'{NAME}/', None), (f'{NAME}/README', b'no model here')]),
     'holds no saved_model/ or frozen_inference_graph.pb'),
    (tar_gz([(f'{NAME}/frozen_inference_graph.pb', b'x'), ('../evil.txt', b'x')]),
     "unsafe path '../evil.txt'"),
    (tar_gz([('/tmp/evil_instance_segmentation.txt', b'x')]), 'unsafe path'),
])
def test_bad_archives_are_refused_and_deleted(data, message, server, cache, capsys):
    server.serve(NAME, data)
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert_one_line_error(status, err.splitlines()[-1] + '\n', message)
    assert not list(cache.iterdir())
    assert not (cache.parent / 'evil.txt').exists()


def test_downloads_are_over_https_by_default(monkeypatch):
    monkeypatch.delenv(zoo.URL_BASE_ENV, raising=False)
    for model in zoo.CATALOGUE.values():
        assert model.url().startswith('https://download.tensorflow.org/'), model.url()


def test_first_download_is_recorded_and_a_substituted_archive_refused(
        archive, server, cache, capsys):
    server.serve(NAME, archive)
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0, err
    digest = hashlib.sha256(archive).hexdigest()
    record = cache / f'{NAME}.tar.gz.sha256'
    assert record.read_text().split() == [digest, f'{NAME}.tar.gz']
    assert 'trust on first use' in err and digest in err

    # The model is deleted; the mirror now serves another archive under the same name.
    shutil.rmtree(cache / NAME)
    substitute = tar_gz([(f'{NAME}/', None), (f'{NAME}/frozen_inference_graph.pb', b'evil')])
    server.serve(NAME, substitute)
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    other = hashlib.sha256(substitute).hexdigest()
    assert_one_line_error(status, err.splitlines()[-1] + '\n', 'differs from the one first',
                          digest, other, f'--sha256 {other}')
    assert sorted(p.name for p in cache.iterdir()) == [record.name]  # nothing unpacked
    assert record.read_text().split()[0] == digest

    # The user who knows the zoo replaced it says so; that digest is recorded instead.
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options,
                               '--sha256', other)
    assert status == 0, err
    assert record.read_text().split()[0] == other


def test_a_truncated_archive_is_refused_and_nothing_recorded(archive, server, cache, capsys):
    server.serve(NAME, archive[:len(archive) // 2])
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert_one_line_error(status, err.splitlines()[-1] + '\n', 'is corrupt', 'deleted')
    assert not list(cache.iterdir())


def test_offline_fails_in_one_line(cache, capsys):
    url = f'http://127.0.0.1:{closed_port()}/zoo'
    status, _, err = run_cli(capsys, 'download-model', NAME, '--url-base', url, '--insecure')
    assert_one_line_error(status, err, 'cannot download', 'connection refused', 'offline?')


def test_url_base_from_the_environment(archive, server, cache, capsys, monkeypatch):
    server.serve(TF2_NAME, tar_gz([(f'{TF2_NAME}/saved_model/saved_model.pb', b'x')]))
    monkeypatch.setenv(zoo.URL_BASE_ENV, server.url)
    status, out, err = run_cli(capsys, 'download-model', TF2_NAME, '--dir',
                               str(cache.parent / 'elsewhere'), '--insecure')
    assert status == 0, err
    assert server.requests == [(f'/zoo/tf2/20200711/{TF2_NAME}.tar.gz', None)]
    assert Path(out.strip()) == cache.parent / 'elsewhere' / TF2_NAME


def test_http_errors_and_unknown_names_fail_in_one_line(server, cache, capsys):
    status, _, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert_one_line_error(status, err, 'HTTP 404')
    status, _, err = run_cli(capsys, 'download-model', 'mask_rcnn_tiny', '--url-base',
                             server.url)
    assert_one_line_error(status, err, "unknown model 'mask_rcnn_tiny'", NAME)
    assert len(server.requests) == 1


# -- https only, unless --insecure says otherwise -------------------------------------------------

def test_a_plain_http_url_base_is_refused_without_insecure(archive, server, cache, capsys):
    server.serve(NAME, archive)
    status, _, err = run_cli(capsys, 'download-model', NAME, '--url-base', server.url)
    assert_one_line_error(status, err, f'--url-base {server.url} is plain http', '--insecure')
    assert server.requests == [] and not list(cache.glob('*.tar.gz*'))
    status, out, err = run_cli(capsys, 'download-model', NAME, *server.options)
    assert status == 0, err
    assert Path(out.strip()) == cache / NAME


def test_a_plain_http_mirror_in_the_environment_is_refused_saying_how_to_allow_it(
        archive, server, cache, capsys, monkeypatch):
    server.serve(NAME, archive)
    monkeypatch.setenv(zoo.URL_BASE_ENV, server.url)
    status, _, err = run_cli(capsys, 'download-model', NAME)
    assert_one_line_error(status, err, f'${zoo.URL_BASE_ENV} ({server.url}) is plain http',
                          'pass --insecure')
    assert server.requests == []


@pytest.mark.parametrize('url_base', ['download.example.org/zoo', 'ftp://mirror.example/zoo'])
def test_a_url_base_that_is_not_https_is_one_line(url_base, cache, capsys):
    status, _, err = run_cli(capsys, 'download-model', NAME, '--url-base', url_base)
    assert_one_line_error(status, err, f'--url-base {url_base} is not an https:// URL')


@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """An https server on 127.0.0.1, trusted by this process, redirecting to `target`."""
    if shutil.which('openssl') is None:
        pytest.skip('openssl is not installed: no certificate for a local https server')
    key, cert = tmp_path / 'key.pem', tmp_path / 'cert.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-keyout', str(key), '-out', str(cert), '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True, timeout=60)
    monkeypatch.setenv('SSL_CERT_FILE', str(cert))  # read by each new default SSL context
    # Since Python 3.12 urllib's shared opener makes its SSL context once, at the first
    # urlopen: drop it so that the next one trusts this certificate, and again at the end.
    urllib.request.install_opener(None)
    redirect = types.SimpleNamespace(target='')

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(302)
            self.send_header('Location', redirect.target + self.path.removeprefix('/zoo'))
            self.send_header('Content-Length', '0')
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    redirect.url = f'https://127.0.0.1:{httpd.server_address[1]}/zoo'
    yield redirect
    httpd.shutdown()
    httpd.server_close()
    urllib.request.install_opener(None)


def test_an_https_download_redirected_to_plain_http_is_refused(
        archive, server, https_server, cache, capsys):
    server.serve(NAME, archive)
    https_server.target = server.url
    status, _, err = run_cli(capsys, 'download-model', NAME, '--url-base', https_server.url)
    assert_one_line_error(status, err, 'redirected to plain http', server.url, '--insecure')
    assert not list(cache.glob('*.tar.gz*'))
    status, out, err = run_cli(capsys, 'download-model', NAME, '--url-base', https_server.url,
                               '--insecure')
    assert status == 0, err
    assert Path(out.strip()) == cache / NAME


def test_a_zoo_name_not_yet_downloaded_says_how_to_get_it(cache):
    with pytest.raises(ModelError, match=f'does not exist; .*download-model {NAME}'):
        locate_model(NAME)
    with pytest.raises(ModelError, match=r"^model_path 'no_such_model' does not exist$"):
        locate_model('no_such_model')
