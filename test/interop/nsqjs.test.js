// nsqjs (a third-party NSQ client from npm) publishing and consuming through the built nsqd.
// NSQD_BINARY names the binary; NSQD_EXTRA_ARGS (e.g. "--cores=4") is appended to its flags.
'use strict'
const { test, before, after, afterEach } = require('node:test')
const assert = require('node:assert')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const nsq = require('nsqjs')

let nsqd, tcpPort, httpPort, dataDir

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
    s.on('error', reject)
  })
}

function ping () {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: '/ping' }, (res) => {
      res.resume(); resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
  })
}

before(async () => {
  tcpPort = await freePort()
  httpPort = await freePort()
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-'))
  const extra = (process.env.NSQD_EXTRA_ARGS || '').split(' ').filter(Boolean)
  nsqd = spawn(process.env.NSQD_BINARY || '../../build/src/nsqd', [
    `--tcp-address=127.0.0.1:${tcpPort}`, `--http-address=127.0.0.1:${httpPort}`,
    `--data-path=${dataDir}`, '--log-level=warn', ...extra], { stdio: ['ignore', 'inherit', 'inherit'] })
  for (let i = 0; i < 150 && !(await ping()); i++) await new Promise(r => setTimeout(r, 100))
})

after(async () => {
  if (nsqd) {
    const exited = new Promise(resolve => nsqd.on('exit', code => resolve(code)))
    nsqd.kill('SIGTERM')
    assert.strictEqual(await exited, 0, 'nsqd exit code after SIGTERM')
  }
  fs.rmSync(dataDir, { recursive: true, force: true })
})

function writer () {
  return new Promise((resolve, reject) => {
    const w = new nsq.Writer('127.0.0.1', tcpPort)
    track(w)
    w.on('ready', () => resolve(w))
    w.on('error', reject)
    w.connect()
  })
}

function publish (w, topic, msgs) {
  return new Promise((resolve, reject) => w.publish(topic, msgs, err => err ? reject(err) : resolve()))
}

function deferPublish (w, topic, msg, ms) {
  // nsqjs 0.13's deferPublish wants an array (of one message: sent as DPUB).
  return new Promise((resolve, reject) => w.deferPublish(topic, [msg], ms, err => err ? reject(err) : resolve()))
}

// Clients opened by a test, closed whatever happens (an open nsqjs Reader reconnects forever).
let open = []
function track (c) { open.push(c); return c }
afterEach(() => { for (const c of open) { try { c.close() } catch (e) {} } open = [] })

function reader (topic, channel, onMessage, opts = {}) {
  const r = new nsq.Reader(topic, channel, { nsqdTCPAddresses: [`127.0.0.1:${tcpPort}`], maxInFlight: 50, ...opts })
  r.on('message', onMessage)
  r.connect()
  return track(r)
}

function until (cond, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const tick = () => {
      if (cond()) return resolve()
      if (Date.now() - t0 > ms) return reject(new Error('timed out'))
      setTimeout(tick, 20)
    }
    tick()
  })
}

test('PUB and MPUB from nsqjs reach an nsqjs Reader exactly once each', async () => {
  const w = await writer()
  const seen = new Map()
  const r = reader('interop_pub', 'ch', msg => {
    const body = msg.body.toString()
    seen.set(body, (seen.get(body) || 0) + 1)
    msg.finish()
  })
  await new Promise(resolve => r.on('ready', resolve))
  for (let i = 0; i < 50; i++) await publish(w, 'interop_pub', `single-${i}`)
  const batch = Array.from({ length: 200 }, (_, i) => `batch-${i}`)
  await publish(w, 'interop_pub', batch)
  await until(() => seen.size === 250)
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.strictEqual(seen.size, 250)
  for (const [body, n] of seen) assert.strictEqual(n, 1, `${body} delivered ${n} times`)
  r.close(); w.close()
})

test('a requeued message comes back with attempts 2', async () => {
  const w = await writer()
  const attempts = []
  const r = reader('interop_req', 'ch', msg => {
    attempts.push(msg.attempts)
    if (msg.attempts === 1) msg.requeue(0, false)
    else msg.finish()
  })
  await new Promise(resolve => r.on('ready', resolve))
  await publish(w, 'interop_req', 'again')
  await until(() => attempts.length >= 2)
  assert.deepStrictEqual(attempts.slice(0, 2), [1, 2])
  r.close(); w.close()
})

test('a deferred publish arrives after its delay', async () => {
  const w = await writer()
  let arrived = 0
  const r = reader('interop_dpub', 'ch', msg => { arrived = Date.now(); msg.finish() })
  await new Promise(resolve => r.on('ready', resolve))
  const t0 = Date.now()
  await deferPublish(w, 'interop_dpub', 'later', 1000)
  await until(() => arrived > 0)
  assert.ok(arrived - t0 >= 950, `arrived after ${arrived - t0} ms`)
  r.close(); w.close()
})

test('two readers on one channel share the messages', async () => {
  const w = await writer()
  const counts = [0, 0]
  const readers = [0, 1].map(i => reader('interop_share', 'ch', msg => { counts[i]++; msg.finish() }, { maxInFlight: 5 }))
  await Promise.all(readers.map(r => new Promise(resolve => r.on('ready', resolve))))
  await publish(w, 'interop_share', Array.from({ length: 400 }, (_, i) => `m${i}`))
  await until(() => counts[0] + counts[1] === 400)
  assert.strictEqual(counts[0] + counts[1], 400)
  readers.forEach(r => r.close()); w.close()
})

// ---- nsqlookupd: nsqjs finds this nsqd through upstream's nsqlookupd ($NSQ_UPSTREAM_BIN) ----

function waitForExit (child) {
  return new Promise(resolve => child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', code => resolve(code)))
}

async function pingPort (port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ping' }, (res) => { res.resume(); resolve(res.statusCode === 200) })
    req.on('error', () => resolve(false))
  })
}

test('an nsqjs Reader with lookupdHTTPAddresses finds nsqd through upstream nsqlookupd', async (t) => {
  const bin = process.env.NSQ_UPSTREAM_BIN
  if (!bin || !fs.existsSync(path.join(bin, 'nsqlookupd'))) { t.skip('NSQ_UPSTREAM_BIN has no nsqlookupd'); return }
  const [lookupTcp, lookupHttp, tcp, httpP] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-lookupd-'))
  const lookupd = spawn(path.join(bin, 'nsqlookupd'), [`--tcp-address=127.0.0.1:${lookupTcp}`,
    `--http-address=127.0.0.1:${lookupHttp}`, '--broadcast-address=127.0.0.1', '--log-level=warn'],
  { stdio: ['ignore', 'inherit', 'inherit'] })
  const extra = (process.env.NSQD_EXTRA_ARGS || '').split(' ').filter(Boolean)
  const node = spawn(process.env.NSQD_BINARY || '../../build/src/nsqd', [
    `--tcp-address=127.0.0.1:${tcp}`, `--http-address=127.0.0.1:${httpP}`, `--data-path=${dir}`,
    `--lookupd-tcp-address=127.0.0.1:${lookupTcp}`, '--broadcast-address=127.0.0.1', '--log-level=warn', ...extra],
  { stdio: ['ignore', 'inherit', 'inherit'] })
  try {
    for (let i = 0; i < 150 && !(await pingPort(httpP)); i++) await new Promise(r => setTimeout(r, 100))
    // The topic exists on the node (and so in nsqlookupd) before the Reader asks for it.
    const w = await new Promise((resolve, reject) => {
      const w = track(new nsq.Writer('127.0.0.1', tcp)); w.on('ready', () => resolve(w)); w.on('error', reject); w.connect()
    })
    await publish(w, 'interop_lookupd', 'first')
    const bodies = []
    const r = track(new nsq.Reader('interop_lookupd', 'ch', {
      lookupdHTTPAddresses: [`127.0.0.1:${lookupHttp}`], lookupdPollInterval: 1, lookupdPollJitter: 0.01, maxInFlight: 10
    }))
    r.on('message', msg => { bodies.push(msg.body.toString()); msg.finish() })
    r.connect()
    await new Promise(resolve => r.on('ready', resolve))
    await publish(w, 'interop_lookupd', 'second')
    await until(() => bodies.includes('second'))
    // 'first' came before the channel existed: it waited at the topic for its first channel.
    assert.deepStrictEqual(bodies.sort(), ['first', 'second'])
    r.close(); w.close()
  } finally {
    node.kill('SIGTERM')
    assert.strictEqual(await waitForExit(node), 0, 'nsqd exit code after SIGTERM')
    lookupd.kill('SIGTERM')
    await waitForExit(lookupd)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// ---- TLS: nsqjs with tls: true against a node that requires it ----

test('nsqjs with tls: true publishes and consumes over TLS', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsqjs-tls-'))
  const { execFileSync } = require('node:child_process')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
  const [tcp, httpP] = [await freePort(), await freePort()]
  const extra = (process.env.NSQD_EXTRA_ARGS || '').split(' ').filter(Boolean)
  // --tls-required: were nsqjs to fall back to plaintext, every command would be refused.
  const node = spawn(process.env.NSQD_BINARY || '../../build/src/nsqd', [
    `--tcp-address=127.0.0.1:${tcp}`, `--http-address=127.0.0.1:${httpP}`, `--data-path=${dir}`,
    `--tls-cert=${path.join(dir, 'cert.pem')}`, `--tls-key=${path.join(dir, 'key.pem')}`,
    '--tls-required=tcp-https', '--log-level=warn', ...extra], { stdio: ['ignore', 'inherit', 'inherit'] })
  try {
    for (let i = 0; i < 150 && !(await pingPort(httpP)); i++) await new Promise(r => setTimeout(r, 100))
    const w = await new Promise((resolve, reject) => {
      const w = track(new nsq.Writer('127.0.0.1', tcp, { tls: true, tlsVerification: false }))
      w.on('ready', () => resolve(w)); w.on('error', reject); w.connect()
    })
    const bodies = []
    const r = track(new nsq.Reader('interop_tls', 'ch', {
      nsqdTCPAddresses: [`127.0.0.1:${tcp}`], tls: true, tlsVerification: false, maxInFlight: 10
    }))
    r.on('message', msg => { bodies.push(msg.body.toString()); msg.finish() })
    r.connect()
    await new Promise(resolve => r.on('ready', resolve))
    await publish(w, 'interop_tls', ['one', 'two', 'three'])
    await until(() => bodies.length === 3)
    assert.deepStrictEqual(bodies.sort(), ['one', 'three', 'two'])
    // The node itself says the reader's connection is TLS.
    const stats = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: httpP, path: '/stats?format=json&topic=interop_tls' }, (res) => {
        let body = ''; res.on('data', d => { body += d }); res.on('end', () => resolve(JSON.parse(body)))
      }).on('error', reject)
    })
    const clients = stats.topics[0].channels[0].clients
    assert.strictEqual(clients.length, 1)
    assert.strictEqual(clients[0].tls, true)
    r.close(); w.close()
  } finally {
    node.kill('SIGTERM')
    assert.strictEqual(await waitForExit(node), 0, 'nsqd exit code after SIGTERM')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
