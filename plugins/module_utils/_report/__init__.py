# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness reports from a scan_readiness result: the model (model), the page (html, with its css),
the text reports (text: JSON, JUnit XML, the provider's ticket), and every file at once (files)."""
