/**
 * yargs through require(), so that its CommonJS build is the one loaded and bundled: the help
 * text of its ESM build breaks lines in the middle of words.
 */
import yargs = require('yargs/yargs');
import helpers = require('yargs/helpers');

export = { yargs, hideBin: helpers.hideBin };
