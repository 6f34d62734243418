// dynalite's CLI, surviving a client that disconnects in the middle of a request.
//
// dynalite 3 throws from a request's 'error' event (index.js: req.on('error', ...throw)),
// so a client killed mid-request (kill -9 of the ingest service during a BatchWriteItem)
// ended the whole DynamoDB endpoint with ECONNRESET / "aborted". Such a request has no
// one left to answer; anything else still ends the process as before.
process.on('uncaughtException', function (err) {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite: a client went away mid-request (' + err.message + '); serving on')
    return
  }
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
require('dynalite/cli.js')
